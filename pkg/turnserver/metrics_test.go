package turnserver_test

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func itoa(i int) string { return strconv.Itoa(i) }

// metric finds a metric family's first sample whose labels include lv.
func metric(t *testing.T, reg *prometheus.Registry, name string, lv ...string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, v := range lv {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetValue() == v
				}
				if !found {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	m := metric(t, reg, name)
	if m == nil {
		t.Fatalf("no metric %s", name)
	}
	return m.GetGauge().GetValue()
}

// counter is a counter's value, 0 when it has no sample yet.
func counter(t *testing.T, reg *prometheus.Registry, name string, lv ...string) float64 {
	t.Helper()
	return metric(t, reg, name, lv...).GetCounter().GetValue()
}
