package doctor_test

import (
	"fmt"

	"github.com/verytippers/vtpeer/pkg/doctor"
)

// A report fails when any check failed; warnings and skipped checks do not.
func ExampleReport_Failed() {
	r := &doctor.Report{Results: []doctor.Result{
		{Group: doctor.GroupServer, Check: "tcp", Status: doctor.StatusOK},
		{Group: doctor.GroupNetwork, Check: "turn-udp", Status: doctor.StatusWarn, Fix: "run `vtpeer serve --turn`"},
		{Group: doctor.GroupMachine, Check: "home-writable", Status: doctor.StatusFail, Fix: "make it writable"},
	}}
	fmt.Println(r.Failed(), r.Count(doctor.StatusWarn), r.Count(doctor.StatusFail))
	// Output: true 1 1
}
