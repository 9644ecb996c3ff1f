package metrics_test

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/metrics"
)

// TestDogStatsDGetsTheSameMetricsWithTags publishes an evaluation through a
// real DogStatsD client to a UDP listener on loopback and reads the
// datagrams.
func TestDogStatsDGetsTheSameMetricsWithTags(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sd, err := metrics.NewDogStatsD(config.Datadog{Address: conn.LocalAddr().String(), Tags: []string{"env:test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()

	rep := churnReport(t)
	p, _ := newPublisher(metrics.Options{StatsD: sd})
	p.Evaluation("churn", "v3", "ok", rep, now, 2*time.Second)
	p.Notification("slack", "trigger", nil)
	if err := sd.Flush(); err != nil {
		t.Fatal(err)
	}

	got := map[string]bool{}
	buf := make([]byte, 65536)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break // deadline: everything flushed has arrived
		}
		for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
			got[line] = true
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}

	acc, _ := rep.Metric("performance.accuracy")
	share, _ := rep.Metric("dataset_drift.share")
	for _, want := range []string{
		"vigil.model_performance:" + fmtG(acc) + "|g|#env:test,model:churn,version:v3,metric:accuracy",
		"vigil.dataset_drift_share:" + fmtG(share) + "|g|#env:test,model:churn",
		"vigil.feature_drifted:1|g|#env:test,model:churn,feature:age",
		"vigil.evaluation_status:1|g|#env:test,model:churn,status:ok",
		"vigil.evaluation_status:0|g|#env:test,model:churn,status:breach",
		"vigil.last_evaluation_timestamp_seconds:" + fmtG(float64(now.Unix())) + "|g|#env:test,model:churn",
		"vigil.evaluation_duration_seconds:2|d|#env:test,model:churn",
		"vigil.notifications_total:1|c|#env:test,integration:slack,kind:trigger,result:ok",
	} {
		if !got[want] {
			var near []string
			prefix, _, _ := strings.Cut(want, ":")
			for line := range got {
				if strings.HasPrefix(line, prefix+":") {
					near = append(near, line)
				}
			}
			slices.Sort(near)
			t.Errorf("missing datagram line\n  %s\nlines of that metric:\n  %s", want, strings.Join(near, "\n  "))
		}
	}
}

func TestNewDogStatsDRejectsABadAddress(t *testing.T) {
	if _, err := metrics.NewDogStatsD(config.Datadog{Address: "no-port"}); err == nil || !strings.Contains(err.Error(), "observability.datadog.address") {
		t.Errorf("err = %v, want one naming observability.datadog.address", err)
	}
}
