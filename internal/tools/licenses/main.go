// Command licenses writes THIRD_PARTY_LICENSES.md: every module linked into
// vtpeer on the release platforms (with and without cgo), its licence, and
// the licence texts, read from the module cache (it works offline once the
// modules are downloaded). The Go standard library and runtime, also in the
// binary, come first.
//
//	go run ./internal/tools/licenses > THIRD_PARTY_LICENSES.md
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// platforms are the release targets (.goreleaser.yaml); cgo only on linux.
var platforms = []struct{ goos, goarch, cgo string }{
	{"linux", "amd64", "1"}, {"linux", "amd64", "0"}, {"linux", "arm64", "0"},
	{"darwin", "amd64", "0"}, {"darwin", "arm64", "0"},
	{"windows", "amd64", "0"}, {"windows", "arm64", "0"},
}

type module struct {
	Path, Version, Dir string
}

type licence struct {
	mod   module
	spdx  string
	files map[string]string // name → text
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "licenses:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	mods := map[string]module{}
	for _, p := range platforms {
		ms, err := deps(p.goos, p.goarch, p.cgo)
		if err != nil {
			return err
		}
		for _, m := range ms {
			mods[m.Path] = m
		}
	}
	paths := make([]string, 0, len(mods))
	for p := range mods {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	std, err := readLicence(module{Path: "Go standard library and runtime", Version: runtime.Version(), Dir: goroot})
	if err != nil {
		return err
	}
	list := []licence{std}
	for _, p := range paths {
		l, err := readLicence(mods[p])
		if err != nil {
			return err
		}
		list = append(list, l)
	}
	return write(w, list)
}

// deps lists the modules whose packages are linked into ./cmd/vtpeer.
func deps(goos, goarch, cgo string) ([]module, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=Module", "./cmd/vtpeer")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED="+cgo, "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list (%s/%s cgo=%s): %v: %s", goos, goarch, cgo, err, stderr.String())
	}
	var ms []module
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Module *struct {
				Path, Version, Dir string
				Main               bool
			}
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Module == nil || p.Module.Main {
			continue
		}
		ms = append(ms, module{Path: p.Module.Path, Version: p.Module.Version, Dir: p.Module.Dir})
	}
	return ms, nil
}

// licenceFile reports whether a file name is a licence or notice file.
func licenceFile(name string) bool {
	n := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE", "PATENTS"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// readLicence reads the licence files at the top of m.Dir.
func readLicence(m module) (licence, error) {
	l := licence{mod: m, files: map[string]string{}}
	if m.Dir == "" {
		return l, fmt.Errorf("%s %s is not in the module cache: run go mod download", m.Path, m.Version)
	}
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return l, fmt.Errorf("%s: %w", m.Path, err)
	}
	var main string
	for _, e := range entries {
		if e.IsDir() || !licenceFile(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.Dir, e.Name()))
		if err != nil {
			return l, fmt.Errorf("%s: %w", m.Path, err)
		}
		l.files[e.Name()] = string(b)
		if rank(e.Name()) > rank(main) {
			main = e.Name()
		}
	}
	// C code compiled in with cgo carries its own licence.
	for _, rel := range bundledC {
		if b, err := os.ReadFile(filepath.Join(m.Dir, rel)); err == nil {
			l.files[rel] = string(b)
		}
	}
	if main == "" {
		return l, fmt.Errorf("%s %s: no licence file in %s", m.Path, m.Version, m.Dir)
	}
	l.spdx = classify(l.files[main])
	return l, nil
}

// bundledC are licence files of C libraries inside Go modules that cgo
// builds link in (go-ethereum's libsecp256k1).
var bundledC = []string{"crypto/secp256k1/libsecp256k1/COPYING"}

// rank orders candidate main licence files: a library's licence
// (COPYING.LESSER: go-ethereum's packages are LGPL, its commands GPL)
// before LICENSE before COPYING before NOTICE/PATENTS.
func rank(name string) int {
	n := strings.ToUpper(name)
	switch {
	case name == "":
		return 0
	case strings.HasPrefix(n, "COPYING.LESSER"), strings.HasPrefix(n, "COPYING.LGPL"):
		return 4
	case strings.HasPrefix(n, "LICEN"):
		return 3
	case strings.HasPrefix(n, "COPYING"):
		return 2
	}
	return 1
}

// classify names the licence of text by its distinctive sentences;
// "see text" when none matches.
func classify(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	has := func(s string) bool { return strings.Contains(t, s) }
	switch {
	case has("GNU LESSER GENERAL PUBLIC LICENSE") && has("Version 3"):
		return "LGPL-3.0"
	case has("GNU GENERAL PUBLIC LICENSE") && has("Version 3"):
		return "GPL-3.0"
	case has("Apache License") && has("Version 2.0"):
		return "Apache-2.0"
	case has("Mozilla Public License Version 2.0") || has("Mozilla Public License, version 2.0"):
		return "MPL-2.0"
	case has("Permission is hereby granted, free of charge"):
		return "MIT"
	case has("Permission to use, copy, modify, and/or distribute") || has("Permission to use, copy, modify, and distribute this software for any purpose with or without fee"):
		return "ISC"
	case has("Redistribution and use in source and binary forms") && (has("Neither the name") || has("names of its contributors")):
		return "BSD-3-Clause"
	case has("Redistribution and use in source and binary forms"):
		return "BSD-2-Clause"
	}
	return "see text"
}

func write(w io.Writer, list []licence) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# Third-party licences")
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "Generated by `go run ./internal/tools/licenses` from the module cache: the software linked into")
	fmt.Fprintln(bw, "the vtpeer release binaries (linux, darwin, windows; amd64, arm64; with and without cgo) and its")
	fmt.Fprintln(bw, "licences. vtpeer itself is Apache-2.0 (LICENSE). Do not edit by hand.")
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "| module | version | licence |")
	fmt.Fprintln(bw, "|---|---|---|")
	for _, l := range list {
		fmt.Fprintf(bw, "| %s | %s | %s |\n", l.mod.Path, l.mod.Version, l.spdx)
	}
	for _, l := range list {
		fmt.Fprintf(bw, "\n## %s %s (%s)\n", l.mod.Path, l.mod.Version, l.spdx)
		names := make([]string, 0, len(l.files))
		for n := range l.files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(bw, "\n### %s\n\n```text\n%s\n```\n", n, strings.TrimRight(strings.ReplaceAll(l.files[n], "```", "'''"), "\n"))
		}
	}
	return bw.Flush()
}
