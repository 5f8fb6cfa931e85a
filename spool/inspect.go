package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SegmentInfo describes one segment file, as Inspect sees it.
type SegmentInfo struct {
	Name  string // file name
	State string // "active", "sealed" or "initialising"
	Bytes int64  // size on disk
	// InUse is true when another process holds the file (a live producer's
	// active segment, or a segment a drainer is working on): its records
	// are then not counted.
	InUse   bool
	Records int64     // live records; -1 if unknown
	Oldest  time.Time // append time of the first record; zero if unknown or empty
	Newest  time.Time // append time of the last record
	Error   string    // why the file could not be read, if it could not
}

// PeekRecord is one of the first records of a spool.
type PeekRecord struct {
	Segment  string
	Seq      uint64
	Time     time.Time
	Attempts int
	Data     []byte // a copy
}

// Report is what Inspect found in a spool directory.
type Report struct {
	Dir      string
	Segments []SegmentInfo
	// Records counts the records of the segments that could be read;
	// RecordsExact is false if some segment was in use or unreadable.
	Records      int64
	RecordsExact bool
	Bytes        int64
	Oldest       time.Time
	// Quarantine lists the files in quarantine/ and their total size.
	Quarantine      []string
	QuarantineBytes int64
	// Peek holds the first records, oldest first, if asked for.
	Peek []PeekRecord
	// Dropped counts the records every process using the spool dropped
	// undelivered, by reason, since the spool was created.
	Dropped map[string]uint64
}

// Inspect reads a spool directory without changing it: the segments, their
// records, the oldest record, the quarantine, and the first peek records.
// It is safe while other processes use the spool: segments they hold are
// reported as in use (their records are not counted), and Inspect holds a
// segment only for the moment it reads it (a shared lock, which a drainer
// waiting for it treats as busy).
func Inspect(ctx context.Context, dir string, peek int) (*Report, error) {
	return inspectDir(ctx, dir, peek, nil)
}

// inspectDir is Inspect, with the segments the calling process holds open
// (held, by id) described by it instead of read from their files.
func inspectDir(ctx context.Context, dir string, peek int, held map[string]heldSegment) (*Report, error) {
	info, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: inspect: %w", err)
	}
	if err := checkDirInfo(dir, info); err != nil {
		return nil, err
	}
	files, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	r := &Report{Dir: dir, RecordsExact: true}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		si := SegmentInfo{Name: f.name(), Bytes: f.size, Records: -1}
		switch f.ext {
		case extActive:
			si.State = "active"
		case extSealed:
			si.State = "sealed"
		default:
			si.State = "initialising"
		}
		r.Bytes += f.size
		if h, ok := held[f.id]; ok {
			si.Records, si.Oldest, si.Newest = h.records, h.oldest, h.newest
			r.Peek = append(r.Peek, h.peek[:min(len(h.peek), max(0, peek-len(r.Peek)))]...)
		} else if f.ext != extTmp {
			want := max(0, peek-len(r.Peek))
			recs, err := inspectSegment(filepath.Join(dir, f.name()), &si, want)
			switch {
			case errors.Is(err, ErrLocked):
				si.InUse = true
			case err != nil:
				si.Error = err.Error()
			default:
				r.Peek = append(r.Peek, recs...)
			}
		}
		if si.Records >= 0 {
			r.Records += si.Records
		} else {
			r.RecordsExact = false
		}
		if !si.Oldest.IsZero() && (r.Oldest.IsZero() || si.Oldest.Before(r.Oldest)) {
			r.Oldest = si.Oldest
		}
		r.Segments = append(r.Segments, si)
	}
	if r.Dropped, err = readDrops(dir); err != nil {
		return nil, fmt.Errorf("spool: inspect drop counters: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, quarantineDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("spool: inspect quarantine: %w", err)
	}
	for _, e := range entries {
		r.Quarantine = append(r.Quarantine, e.Name())
		if fi, err := e.Info(); err == nil {
			r.QuarantineBytes += fi.Size()
		}
	}
	return r, nil
}

func inspectSegment(path string, si *SegmentInfo, peek int) (recs []PeekRecord, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked: %v", ErrCorrupt, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Nanosecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Size() > si.Bytes {
			return fmt.Errorf("%w: truncated (%d bytes, meta page says %d)", ErrCorrupt, si.Bytes, tx.Size())
		}
		b := tx.Bucket(bucketRecords)
		att := tx.Bucket(bucketAttempts)
		if b == nil || att == nil {
			return fmt.Errorf("%w: missing buckets", ErrCorrupt)
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: missing buckets", ErrCorrupt)
		}
		// Records settled but still in the file are marked (marks.go).
		marks, err := decodeMarks(meta.Get(metaSettled))
		if err != nil {
			return err
		}
		c := b.Cursor()
		var n int64
		for k, v := firstLive(c, marks, 1); k != nil; k, v = c.Next() {
			if seq, ok := keySeq(k); ok && marks.contains(seq) {
				continue
			}
			n++
			if n == 1 {
				if t, _, err := decodeRecord(v); err == nil {
					si.Oldest = t
				}
			}
		}
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if seq, ok := keySeq(k); ok && marks.contains(seq) {
				continue
			}
			if t, _, err := decodeRecord(v); err == nil {
				si.Newest = t
			}
			break
		}
		si.Records = n
		for k, v := firstLive(c, marks, 1); k != nil && len(recs) < peek; k, v = c.Next() {
			seq, _ := keySeq(k)
			if marks.contains(seq) {
				continue
			}
			t, payload, err := decodeRecord(v)
			if err != nil {
				continue
			}
			pr := PeekRecord{Segment: filepath.Base(path), Seq: seq, Time: t, Data: append([]byte(nil), payload...)}
			if a := att.Get(k); len(a) == 4 {
				pr.Attempts = int(binary.BigEndian.Uint32(a))
			}
			recs = append(recs, pr)
		}
		return nil
	})
	return recs, err
}
