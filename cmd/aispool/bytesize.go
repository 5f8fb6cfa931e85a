package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value holding a number of bytes, written as a whole
// number with an optional binary unit, as GOMEMLIMIT is: 1048576, 1024KiB,
// 256MiB, 1GiB (B, KiB, MiB, GiB, TiB; the case of the unit does not
// matter).
type byteSize struct{ p *int64 }

func newByteSize(p *int64, def int64) byteSize {
	*p = def
	return byteSize{p}
}

var byteUnits = []struct {
	suffix string
	shift  uint
}{{"TIB", 40}, {"GIB", 30}, {"MIB", 20}, {"KIB", 10}, {"B", 0}}

func (b byteSize) Set(s string) error {
	num, shift := strings.TrimSpace(s), uint(0)
	upper := strings.ToUpper(num)
	for _, u := range byteUnits {
		if strings.HasSuffix(upper, u.suffix) {
			num, shift = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil:
		return errors.New("not a size: want bytes or a number with KiB, MiB, GiB, TiB")
	case n < 0:
		return errors.New("negative")
	case shift > 0 && n > (1<<63-1)>>shift:
		return errors.New("too large")
	}
	*b.p = n << shift
	return nil
}

func (b byteSize) String() string {
	if b.p == nil {
		return "0"
	}
	n := *b.p
	for _, u := range byteUnits[:4] {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, []string{"TiB", "GiB", "MiB", "KiB"}[(40-u.shift)/10])
		}
	}
	return strconv.FormatInt(n, 10)
}

func (byteSize) Type() string { return "size" }
