package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The licence check of the build graph: every module a package of
// ./... (tests included) is built from must carry a licence file whose
// text is permissive (MIT, BSD, Apache-2.0, ISC, zlib) or be on the
// reviewed allow-list below. AGPL, GPL, LGPL, SSPL, BSL, MPL, an unknown
// text or no licence file fails: go.k6.io/k6 (AGPL) must never come back
// in. NOTICE lists what the allowed odd cases require, and must name every
// module of the graph.

// licenceClass is what a licence text is, by its wording.
type licenceClass string

const (
	permissive licenceClass = "permissive"
	agpl       licenceClass = "AGPL"
	gpl        licenceClass = "GPL"
	lgpl       licenceClass = "LGPL"
	sspl       licenceClass = "SSPL"
	bsl        licenceClass = "BSL"
	mpl        licenceClass = "MPL"
	ccBy       licenceClass = "CC-BY"
	ofl        licenceClass = "OFL"
	unknown    licenceClass = "unknown"
)

// licenceMarks are tried in order: copyleft and source-available wording
// first, so a file naming both a permissive and a copyleft licence (a
// dual licence) is classed by the copyleft one and needs a review.
var licenceMarks = []struct {
	class licenceClass
	re    *regexp.Regexp
}{
	{agpl, regexp.MustCompile(`gnu affero general public license|\bagpl`)},
	{sspl, regexp.MustCompile(`server side public license`)},
	{bsl, regexp.MustCompile(`business source license`)},
	{lgpl, regexp.MustCompile(`gnu lesser general public license|gnu library general public license`)},
	{gpl, regexp.MustCompile(`gnu general public license|\bgpl\b`)},
	{mpl, regexp.MustCompile(`mozilla public license`)},
	{ccBy, regexp.MustCompile(`creative commons attribution`)},
	{ofl, regexp.MustCompile(`sil open font license`)},
	{permissive, regexp.MustCompile(`apache license,? version 2\.0|apache license\s+version 2\.0`)},
	{permissive, regexp.MustCompile(`permission is hereby granted, free of charge`)},
	{permissive, regexp.MustCompile(`redistribution and use in source and binary forms`)},
	{permissive, regexp.MustCompile(`permission to use, copy, modify, and(/or)? distribute this software for any purpose`)},
	{permissive, regexp.MustCompile(`this software is provided 'as-is', without any express or implied`)},
}

var spaces = regexp.MustCompile(`\s+`)

// classify classes one licence text.
func classify(text string) licenceClass {
	t := spaces.ReplaceAllString(strings.ToLower(text), " ")
	for _, m := range licenceMarks {
		if m.re.MatchString(t) {
			return m.class
		}
	}
	return unknown
}

// reviewedLicences are the modules whose licence files class as something
// other than permissive and that were reviewed by hand: module path ->
// the classes accepted, and why.
var reviewedLicences = map[string]struct {
	classes []licenceClass
	reason  string
}{
	"github.com/golang/freetype":       {[]licenceClass{gpl}, "dual licence, FreeType License or GPL-2.0+ at the recipient's choice: used under the FreeType License (BSD-like, credit clause); the credit is in NOTICE"},
	"github.com/ajstarks/svgo":         {[]licenceClass{ccBy}, "CC BY 4.0 (attribution only); the attribution is in NOTICE; used unmodified by gonum.org/v1/plot"},
	"codeberg.org/go-fonts/liberation": {[]licenceClass{ofl}, "the Liberation fonts are under SIL OFL 1.1 (embedding and redistribution with software allowed; notice kept in NOTICE); the Go code is BSD-3-Clause"},
}

// licenceFile says whether a file in a module's root is a licence text.
func licenceFile(name string) bool {
	n := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "UNLICENSE"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// moduleLicences classes the licence files in the root of module dir dir.
func moduleLicences(dir string) (map[licenceClass][]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[licenceClass][]string{}
	for _, e := range ents {
		if e.IsDir() || !licenceFile(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		c := classify(string(b))
		out[c] = append(out[c], e.Name())
	}
	return out, nil
}

// TestModuleLicences reads the licence of every module in the build graph
// from the module cache (GOMODCACHE) and fails on any that is not
// permissive and not reviewed.
func TestModuleLicences(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}\t{{.Version}}\t{{.Dir}}\t{{.Main}}{{end}}", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type mod struct{ path, version, dir string }
	mods := map[string]mod{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 || f[3] == "true" {
			continue
		}
		mods[f[0]] = mod{f[0], f[1], f[2]}
	}
	if len(mods) < 10 {
		t.Fatalf("only %d modules in the build graph: go list output?\n%s", len(mods), out)
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := mods[n]
		if strings.HasPrefix(n, "go.k6.io/") {
			t.Errorf("%s@%s: k6 is AGPL-3.0 and must not be in the build graph", n, m.version)
			continue
		}
		if m.dir == "" {
			t.Errorf("%s@%s: not in the module cache (go mod download)", n, m.version)
			continue
		}
		classes, err := moduleLicences(m.dir)
		if err != nil {
			t.Errorf("%s@%s: %v", n, m.version, err)
			continue
		}
		if len(classes) == 0 {
			t.Errorf("%s@%s: no LICENSE/COPYING file in %s", n, m.version, m.dir)
			continue
		}
		rev, reviewed := reviewedLicences[n]
		for c, files := range classes {
			if c == permissive {
				continue
			}
			if reviewed && containsClass(rev.classes, c) {
				continue
			}
			t.Errorf("%s@%s: %s licence (%s): not allowed; if it is fine after a review, add it to reviewedLicences with the reason (and what it requires to NOTICE)", n, m.version, c, strings.Join(files, ", "))
		}
	}
	notice, err := os.ReadFile("../../NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !noticeNames(string(notice), n) {
			t.Errorf("NOTICE does not list %s: add it under its licence (and what that licence requires)", n)
		}
	}
	for n := range reviewedLicences {
		if _, ok := mods[n]; !ok {
			t.Errorf("reviewedLicences lists %s, no longer in the build graph: remove it (and its NOTICE entry)", n)
		}
	}
	t.Logf("%d modules, every licence permissive or reviewed", len(mods))
}

// noticeNames says whether NOTICE lists module path: the whole path, or
// (in a list such as "golang.org/x/image, net, sys") its last element,
// without a /vN suffix.
func noticeNames(notice, path string) bool {
	if strings.Contains(notice, path) {
		return true
	}
	el := strings.Split(path, "/")
	last := el[len(el)-1]
	if len(el) > 1 && regexp.MustCompile(`^v[0-9]+$`).MatchString(last) {
		last = el[len(el)-2]
	}
	return regexp.MustCompile(`(^|[\s,(/])` + regexp.QuoteMeta(last) + `([\s,):.]|$)`).MatchString(notice)
}

func containsClass(cs []licenceClass, c licenceClass) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// TestClassifyLicence holds the classifier to the texts that matter.
func TestClassifyLicence(t *testing.T) {
	for text, want := range map[string]licenceClass{
		"GNU AFFERO GENERAL PUBLIC LICENSE\n Version 3, 19 November 2007":                               agpl,
		"This program is free software: you can redistribute it under the GNU General\nPublic License":  gpl,
		"GNU LESSER GENERAL PUBLIC LICENSE Version 3":                                                   lgpl,
		"Server Side Public License VERSION 1, OCTOBER 16, 2018":                                        sspl,
		"Business Source License 1.1 Licensor: HashiCorp":                                               bsl,
		"Mozilla Public License Version 2.0":                                                            mpl,
		"Apache License\n                           Version 2.0, January 2004":                          permissive,
		"MIT License\n\nPermission is hereby granted, free of charge, to any person":                    permissive,
		"Redistribution and use in source and binary forms, with or without modification":               permissive,
		"ISC License\nPermission to use, copy, modify, and/or distribute this software for any purpose": permissive,
		"All rights reserved. Do not copy.":                                                             unknown,
		"Use under the FreeType License or the GNU General Public License (GPL), version 2":             gpl,
	} {
		if got := classify(text); got != want {
			t.Errorf("classify(%.40q) = %s, want %s", text, got, want)
		}
	}
}
