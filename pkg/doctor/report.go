package doctor

// Status is the outcome of one check.
type Status string

// Statuses. Only StatusFail makes Report.Failed true.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip" // a prerequisite failed or the input is missing
)

// Groups of checks.
const (
	GroupServer  = "server"
	GroupNetwork = "network"
	GroupMachine = "machine"
)

// Result is one line of the checklist.
type Result struct {
	Group  string `json:"group"`
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // one sentence, for warn and fail
}

// Report is the whole checklist, in the order the checks ran.
type Report struct {
	Results []Result `json:"checks"`
}

// Failed reports whether any check failed (warnings do not fail).
func (r *Report) Failed() bool {
	for _, c := range r.Results {
		if c.Status == StatusFail {
			return true
		}
	}
	return false
}

// Count returns how many checks ended with s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Results {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Find returns the result of the named check, or false.
func (r *Report) Find(group, check string) (Result, bool) {
	for _, c := range r.Results {
		if c.Group == group && c.Check == check {
			return c, true
		}
	}
	return Result{}, false
}

func (r *Report) add(group, check string, s Status, detail, fix string) {
	if s == StatusOK {
		fix = ""
	}
	r.Results = append(r.Results, Result{Group: group, Check: check, Status: s, Detail: detail, Fix: fix})
}
