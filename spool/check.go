package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Validate reports the problems [Open] would find in o, each naming its
// field, joined and wrapping [ErrInvalidConfig]; nil if o is valid. A nil
// *Options is valid (the defaults).
func (o *Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// CheckDir reports whether [Open] would accept dir as a spool directory,
// without creating or changing anything: an existing dir must be a safe
// spool directory (not a symlink, owned by the current user, not writable
// by group or others, under directories others cannot write into without
// the sticky bit); a missing one is checked as Open would create it, by
// its nearest existing parent. Errors wrap [ErrUnsafeDir], or say why dir
// could not be looked at.
func CheckDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: empty directory path", ErrInvalidConfig)
	}
	dir = filepath.Clean(dir)
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Open creates it with MkdirAll: what matters is the nearest
		// existing directory above it, and the ones above that.
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("spool: directory %s: %w", dir, err)
		}
		p := abs
		for {
			parent := filepath.Dir(p)
			if _, err := os.Lstat(parent); err == nil || parent == p {
				break
			}
			p = parent
		}
		return checkParents(p)
	}
	if err != nil {
		return fmt.Errorf("spool: stat directory %s: %w", dir, err)
	}
	if err := checkDirInfo(dir, info); err != nil {
		return err
	}
	return checkParents(dir)
}
