package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The configuration of the daemon commands (docs/configuration.md) comes
// from four layers, the first that sets a setting winning:
//
//  1. the command line (--max-in-flight 4);
//  2. the environment (AISPOOL_MAX_IN_FLIGHT=4);
//  3. the configuration file of --config or AISPOOL_CONFIG
//     (max-in-flight: 4);
//  4. the flags' defaults.
//
// The settings are the flags of "aispool run" (and the global
// --log-format and --log-level): a file key is a flag's name, an
// environment variable is AISPOOL_ and the flag's name in upper case with
// "_" for "-". Values from the file and the environment go through the
// flag's own parser (Value.Set), so a flag added to run is a file key and
// a variable at once, with its syntax, and nothing else to write.
const (
	envPrefix  = "AISPOOL_"
	configFlag = "config"
)

// notSettings are the flags that are not settings of the file or the
// environment.
var notSettings = map[string]bool{configFlag: true, "help": true, "version": true}

// envName is the environment variable of a setting (a flag's name).
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// keyOfEnv is the setting of an environment variable ("" if the name does
// not have the form of one).
func keyOfEnv(name string) string {
	rest, ok := strings.CutPrefix(name, envPrefix)
	if !ok || rest == "" {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-"))
}

// withConfig gives cmd, a daemon command, the --config flag, and applies
// the configuration file and the environment to its flags that the command
// line did not set before its RunE runs. Errors that name a flag set from
// the file or the environment name the key or the variable instead.
func withConfig(g *globals, cmd *cobra.Command) *cobra.Command {
	cmd.Flags().String(configFlag, "", "YAML configuration file: keys are the flags' names (flags and "+envPrefix+"* variables win over it); default $"+envName(configFlag))
	runE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		src, err := applyConfig(c, g)
		if err != nil {
			return err
		}
		return src.rewrite(runE(c, args))
	}
	return cmd
}

// settingKeys returns the flags that are settings: those of "aispool run"
// and the global ones, by name.
func settingKeys(g *globals, root *cobra.Command) map[string]*pflag.Flag {
	keys := make(map[string]*pflag.Flag)
	add := func(f *pflag.Flag) {
		if !notSettings[f.Name] {
			keys[f.Name] = f
		}
	}
	// A fresh command: its flags are bound to a throwaway configuration.
	newRunCommand(g).Flags().VisitAll(add)
	root.PersistentFlags().VisitAll(add)
	return keys
}

// sources says where the settings that did not come from the command line
// came from: a key of the file, or an environment variable.
type sources map[string]string

// applyConfig loads the configuration file and the environment into the
// flags of cmd that the command line did not set, and returns where each
// came from. Every problem is reported at once, as a configuration error.
func applyConfig(cmd *cobra.Command, g *globals) (sources, error) {
	fs := cmd.Flags()
	keys := settingKeys(g, cmd.Root())
	path, _ := fs.GetString(configFlag)
	pathFrom := "--config"
	if !fs.Changed(configFlag) {
		if p, ok := g.lookupEnv(envName(configFlag)); ok && p != "" {
			path, pathFrom = p, envName(configFlag)
		}
	}
	var errs []error
	src := sources{}
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, configError("%s %s: %w", pathFrom, path, err)
		}
		for _, key := range k.Keys() {
			if keys[key] == nil {
				errs = append(errs, fmt.Errorf("%s: unknown key %q%s", path, key, suggest(key, keys)))
				continue
			}
			src[key] = fmt.Sprintf("%s (in %s)", key, path)
		}
	}
	// Variables of settings only: AISPOOL_ variables that name no setting
	// (a typo, or another program's) are left alone; validate warns.
	err := k.Load(env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: g.environ,
		TransformFunc: func(name, v string) (string, any) {
			key := keyOfEnv(name)
			if keys[key] == nil {
				return "", nil
			}
			src[key] = name
			return key, v
		},
	}), nil)
	if err != nil {
		return nil, configError("environment: %w", err)
	}
	applied := sources{}
	for _, key := range slices.Sorted(maps.Keys(src)) {
		f := fs.Lookup(key)
		if f == nil || f.Changed || !k.Exists(key) {
			continue // not a flag of this command, or the command line wins
		}
		if err := setFlag(f, k.Get(key)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src[key], err))
		}
		applied[key] = src[key]
	}
	if len(errs) > 0 {
		return nil, configError("%w", errors.Join(errs...))
	}
	return applied, nil
}

// setFlag sets f to v, a value of the file (a YAML scalar or list) or of
// the environment (a string), through the flag's own parser.
func setFlag(f *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		sv, ok := f.Value.(pflag.SliceValue)
		if !ok {
			return fmt.Errorf("a list, where one value is wanted")
		}
		items := make([]string, 0, len(list))
		for _, it := range list {
			s, err := scalar(it)
			if err != nil {
				return err
			}
			items = append(items, s)
		}
		return sv.Replace(items)
	}
	s, err := scalar(v)
	if err != nil {
		return err
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		// "a,b" from the environment, or one item from the file.
		var items []string
		for it := range strings.SplitSeq(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		return sv.Replace(items)
	}
	if err := f.Value.Set(s); err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = errors.New("not a whole number")
		}
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

// scalar renders a YAML scalar as the command line would write it.
func scalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("a %T, where a value is wanted", v)
}

// suggest names the setting closest to an unknown key, if one is close.
func suggest(key string, keys map[string]*pflag.Flag) string {
	best, dist := "", 3
	for k := range keys {
		if d := levenshtein(key, k); d < dist || d == dist && k < best {
			best, dist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// rewrite returns err with each flag that was set from the file or the
// environment named as the user wrote it: "--max-in-flight" becomes
// "AISPOOL_MAX_IN_FLIGHT" or "max-in-flight (in /etc/aispool.yaml)". The
// result still wraps err (errors.Is and errors.As see through it).
func (s sources) rewrite(err error) error {
	if err == nil || len(s) == 0 {
		return err
	}
	msg := err.Error()
	out := msg
	for key, name := range s {
		out = replaceFlag(out, "--"+key, name)
	}
	if out == msg {
		return err
	}
	return renamedError{err, out}
}

// replaceFlag replaces flag in msg where it stands as a whole flag name
// (not followed by a letter, digit or "-").
func replaceFlag(msg, flag, name string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, flag)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(flag)
		b.WriteString(msg[:i])
		if end < len(msg) && (isFlagChar(msg[end])) {
			b.WriteString(flag)
		} else {
			b.WriteString(name)
		}
		msg = msg[end:]
	}
}

func isFlagChar(c byte) bool {
	return c == '-' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// renamedError is an error shown with other names.
type renamedError struct {
	err error
	msg string
}

func (e renamedError) Error() string { return e.msg }
func (e renamedError) Unwrap() error { return e.err }

// effectiveConfig returns every setting of cmd with the value it has now
// (after the command line, the environment and the file), as the file
// would write it, through redact: the output of validate --print-config.
func effectiveConfig(cmd *cobra.Command, keys map[string]*pflag.Flag, redact func(key, value string) string) ([]byte, error) {
	fs := cmd.Flags()
	k := koanf.New(".")
	// posflag takes an unchanged flag when the koanf instance it is given
	// lacks the key: an empty one, so that every flag is taken.
	err := k.Load(posflag.ProviderWithFlag(fs, ".", koanf.New("."), func(f *pflag.Flag) (string, any) {
		if keys[f.Name] == nil {
			return "", nil
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return f.Name, sv.GetSlice()
		}
		switch f.Value.Type() {
		case "int", "int64", "uint64", "bool":
			return f.Name, posflag.FlagVal(fs, f)
		}
		// Durations, sizes and words as a user writes them ("30s",
		// "256MiB", "reject"), not as numbers.
		return f.Name, redact(f.Name, f.Value.String())
	}), nil)
	if err != nil {
		return nil, err
	}
	return k.Marshal(yaml.Parser())
}
