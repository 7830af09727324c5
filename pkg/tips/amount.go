package tips

import (
	"fmt"
	"math/big"
	"strings"
)

// Decimals is the number of decimals of VERY: 1 VERY = 10^18 wei.
const Decimals = 18

var weiPerVery = new(big.Int).Exp(big.NewInt(10), big.NewInt(Decimals), nil)

// ParseAmount parses a VERY amount written in decimal ("5", "0.5",
// "0.000123456789012345") into wei, exactly: no floating point, at most 18
// decimals, no sign, no exponent. The result is a uint256 greater than zero.
func ParseAmount(very string) (*big.Int, error) {
	s := strings.TrimSpace(very)
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !digitsOnly(whole) || !digitsOnly(frac) {
		return nil, fmt.Errorf("%w: %q is not a decimal number", ErrBadAmount, very)
	}
	if len(frac) > Decimals {
		return nil, fmt.Errorf("%w: %q has more than %d decimals", ErrBadAmount, very, Decimals)
	}
	digits := whole + frac + strings.Repeat("0", Decimals-len(frac))
	wei, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a decimal number", ErrBadAmount, very)
	}
	if wei.Sign() <= 0 {
		return nil, fmt.Errorf("%w: amount must be greater than zero", ErrBadAmount)
	}
	if !isUint256(wei) {
		return nil, fmt.Errorf("%w: amount exceeds uint256", ErrBadAmount)
	}
	return wei, nil
}

// ParseWei parses a decimal wei amount (a uint256 greater than zero).
func ParseWei(s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	if s == "" || !digitsOnly(s) {
		return nil, fmt.Errorf("%w: %q is not a decimal integer", ErrBadAmount, s)
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() <= 0 || !isUint256(v) {
		return nil, fmt.Errorf("%w: %q is not a uint256 greater than zero", ErrBadAmount, s)
	}
	return v, nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatAmount writes wei as a VERY decimal string without trailing zeros:
// 1500000000000000000 → "1.5", 5 → "0.000000000000000005". nil → "0".
func FormatAmount(wei *big.Int) string {
	if wei == nil {
		return "0"
	}
	neg := wei.Sign() < 0
	q, r := new(big.Int).QuoRem(new(big.Int).Abs(wei), weiPerVery, new(big.Int))
	s := q.String()
	if r.Sign() != 0 {
		frac := fmt.Sprintf("%018s", r.String())
		s += "." + strings.TrimRight(frac, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}
