package envelope

import "encoding/binary"

// appendHex appends the lower-case hexadecimal of src, as
// hex.AppendEncode does, four bytes at a time for ids (8 and 16 bytes).
func appendHex(dst, src []byte) []byte {
	for len(src) >= 4 {
		dst = binary.BigEndian.AppendUint64(dst, hex4(binary.BigEndian.Uint32(src)))
		src = src[4:]
	}
	for _, b := range src {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

// hex4 returns the eight hexadecimal digits of x, the first in the most
// significant byte: the digits of x's bytes are spread into one 16-bit lane
// each (the most significant byte of x in the highest lane, its high
// nibble in the lane's high byte), then each nibble n becomes '0'+n, plus
// 'a'-'0'-10 when n >= 10 (n+6 carries into bit 4 exactly then).
func hex4(x uint32) uint64 {
	const nibbles, ones = 0x000f000f000f000f, 0x0101010101010101
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v>>4)&nibbles<<8 | v&nibbles
	letters := (v + 6*ones) >> 4 & ones
	return v + '0'*ones + letters*('a'-'0'-10)
}
