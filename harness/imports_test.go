package harness_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules pins the one-way data flow with go list -deps: engine/
// imports nothing of this module outside engine/; sim, faults and reports
// import neither harness/stack nor harness/run; nothing under harness/
// imports cmd/.
func TestImportRules(t *testing.T) {
	const mod = "github.com/countlab/countlab/"
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}} {{join .Deps " "}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	under := func(pkg, dir string) bool {
		return pkg == mod+dir || strings.HasPrefix(pkg, mod+dir+"/")
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, deps := f[0], f[1:]
		for _, d := range deps {
			if !strings.HasPrefix(d, mod) {
				continue // stdlib and third party
			}
			switch {
			case under(pkg, "engine") && !under(d, "engine"):
				t.Errorf("%s imports %s: engine/ imports nothing outside engine/", pkg, d)
			case (under(pkg, "sim") || under(pkg, "faults") || under(pkg, "reports")) && (under(d, "harness/stack") || under(d, "harness/run")):
				t.Errorf("%s imports %s: sim, faults and reports import neither the stack nor the run", pkg, d)
			case under(pkg, "sim/oracle") && under(d, "engine"):
				t.Errorf("%s imports %s: the checker's truth never imports engine/", pkg, d)
			case under(pkg, "harness") && under(d, "cmd"):
				t.Errorf("%s imports %s: harness packages never import cmd/", pkg, d)
			}
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d packages listed:\n%s", checked, out)
	}
}
