package envelope

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestAppendHex checks appendHex against encoding/hex on every byte value
// and on random inputs of every length up to 20.
func TestAppendHex(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	r := rand.New(rand.NewPCG(7, 8))
	inputs := [][]byte{all, all[1:], all[3:]}
	for n := range 21 {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			inputs = append(inputs, b)
		}
	}
	for _, in := range inputs {
		want := "x" + hex.EncodeToString(in)
		if got := string(appendHex([]byte("x"), in)); got != want {
			t.Fatalf("appendHex(%x) = %q, want %q", in, got, want)
		}
	}
}
