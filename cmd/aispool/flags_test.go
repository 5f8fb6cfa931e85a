package main

import (
	"testing"

	"github.com/spf13/pflag"

	"github.com/aispool/aispool/sender"
)

// TestPoisonAttemptsFlag: --poison-attempts reaches the sender's
// PoisonAttempts; 0 and counts below -1 are refused at parse time.
func TestPoisonAttemptsFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
		err  bool
	}{
		{nil, sender.DefaultPoisonAttempts, false},
		{[]string{"--poison-attempts", "5"}, 5, false},
		{[]string{"--poison-attempts=-1"}, -1, false},
		{[]string{"--poison-attempts", "0"}, 0, true},
		{[]string{"--poison-attempts=-2"}, 0, true},
		{[]string{"--poison-attempts", "three"}, 0, true},
	} {
		var f daemonFlags
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		fs.SetOutput(discardWriter{})
		f.register(fs, true)
		err := fs.Parse(tc.args)
		if (err != nil) != tc.err {
			t.Errorf("%v: err %v, want error %v", tc.args, err, tc.err)
			continue
		}
		if err == nil && f.cfg.Sender.PoisonAttempts != tc.want {
			t.Errorf("%v: PoisonAttempts %d, want %d", tc.args, f.cfg.Sender.PoisonAttempts, tc.want)
		}
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
