package report

import "testing"

// TestReasonsDeclared: every reason has a status it goes with (skipped or failed) and a doc.
func TestReasonsDeclared(t *testing.T) {
	if len(Reasons()) < 10 {
		t.Fatalf("only %d reasons declared", len(Reasons()))
	}
	for _, r := range Reasons() {
		info, ok := r.Info()
		if !ok || info.Doc == "" || (info.Status != StatusSkipped && info.Status != StatusFailed) {
			t.Errorf("reason %q: %+v, declared %v", r, info, ok)
		}
	}
	if _, ok := Reason("no_such_reason").Info(); ok {
		t.Error("an undeclared reason has info")
	}
	if info, _ := ReasonWriteFailed.Info(); !info.Transient {
		t.Error("write_failed is not transient")
	}
	if info, _ := ReasonCorrupt.Info(); info.Transient {
		t.Error("corrupt is transient")
	}
}
