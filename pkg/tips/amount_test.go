package tips

import (
	"errors"
	"testing"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, wei string
		err     bool
	}{
		{"5", "5000000000000000000", false},
		{"0.000123456789012345", "123456789012345", false},
		{"1.5", "1500000000000000000", false},
		{"0.000000000000000001", "1", false},
		{" 2 ", "2000000000000000000", false},
		{"007.10", "7100000000000000000", false},
		{"0", "", true},
		{"0.0", "", true},
		{"0.0000000000000000001", "", true},
		{"-1", "", true},
		{"+1", "", true},
		{"1e18", "", true},
		{"1.", "", true},
		{".5", "", true},
		{"", "", true},
		{"1,5", "", true},
		{"NaN", "", true},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAmount(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadAmount) {
					t.Fatalf("got %v, %v; want ErrBadAmount", got, err)
				}
				return
			}
			if err != nil || got.String() != tt.wei {
				t.Fatalf("got %v, %v; want %s", got, err, tt.wei)
			}
			if back, _ := ParseAmount(FormatAmount(got)); back.Cmp(got) != 0 {
				t.Fatalf("FormatAmount round trip: %s", FormatAmount(got))
			}
		})
	}
}

func TestFormatAmount(t *testing.T) {
	t.Parallel()
	for wei, want := range map[string]string{"5": "0.000000000000000005", "1000000000000000000": "1", "1500000000000000000": "1.5", "0": "0"} {
		v, _ := ParseWei(wei)
		if wei == "0" {
			v = nil
		}
		if got := FormatAmount(v); got != want {
			t.Errorf("FormatAmount(%s) = %s, want %s", wei, got, want)
		}
	}
}

func TestParseAddressChecksum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"0xD4be4442D6C200E665c6b08A2FEf88c925D1A557", true},  // valid EIP-55
		{"0xd4be4442d6c200e665c6b08a2fef88c925d1a557", true},  // all lower: no checksum
		{"0xD4BE4442D6C200E665C6B08A2FEF88C925D1A557", true},  // all upper: no checksum
		{"0xD4be4442D6C200E665c6b08A2FEf88c925D1a557", false}, // one letter's case flipped
		{"0xD4be4442D6C200E665c6b08A2FEf88c925D1A55", false},  // 19.5 bytes
	}
	for _, tt := range tests {
		_, err := ParseAddress(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseAddress(%s) error = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
