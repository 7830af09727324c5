package app

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckPath reports whether p is a safe relative path for a received file
// on any system: "/"-separated UTF-8 of at most MaxPathLen bytes; no
// absolute path, no "\", ":" (drive letters, NTFS streams) or control
// character; no empty, "." or ".." element, none ending in "." or " ", and
// no Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, CONIN$,
// CONOUT$, with or without an extension). Symbolic links in the receive
// directory are handled where files are opened (os.Root).
func CheckPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrUnsafePath, p, why) }
	switch {
	case p == "":
		return bad("empty")
	case len(p) > MaxPathLen:
		return bad("too long")
	case !utf8.ValidString(p):
		return bad("not UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("absolute")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ':' || r == '<' || r == '>' || r == '"' || r == '|' || r == '?' || r == '*' {
			return bad(fmt.Sprintf("character %q", r))
		}
	}
	for _, e := range strings.Split(p, "/") {
		switch {
		case e == "":
			return bad("empty element")
		case e == "." || e == "..":
			return bad("dot element")
		case strings.HasSuffix(e, ".") || strings.HasSuffix(e, " "):
			return bad("element ends in a dot or space")
		case reservedName(e):
			return bad("device name")
		}
	}
	return nil
}

// reservedName reports whether e is a Windows device name, whatever its
// case or extension.
func reservedName(e string) bool {
	base, _, _ := strings.Cut(e, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		c := base[3]
		return c >= '0' && c <= '9'
	}
	// COM¹ ² ³ and LPT¹ ² ³ are device names too.
	for _, sup := range []string{"¹", "²", "³"} {
		if base == "COM"+sup || base == "LPT"+sup {
			return true
		}
	}
	return false
}
