// The client-go peer of benches/run.py: what a Go user writes with client-go (the one the
// local control plane's Kubernetes 1.20 source tree vendors), on its default transport
// (HTTP/2 over TLS). Per operation: GetScale, and if the count differs, UpdateScale with the
// resourceVersion read (a 409 Conflict reads again). Client-side rate limiting is off
// (QPS -1), as controllers raise it; no Events. Same arguments and JSON output as
// benches/clients.py (latencies in milliseconds).
//
// Built by benches/peers/build-client-go.sh with the Go toolchain and source tree of the
// control-plane build (scripts/install-control-plane.sh).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func statusKB(field string) int64 {
	b, _ := ioutil.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			if len(f) > 1 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}

func cpuSeconds() float64 {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(r.Utime) + tv(r.Stime)
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "")
	ns := flag.String("namespace", "", "")
	targets := flag.Int("targets", 0, "")
	values := flag.String("values", "", "")
	concurrency := flag.Int("concurrency", 1, "")
	flag.Parse()
	started := time.Now()
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		panic(err)
	}
	config.QPS = -1 // no client-side rate limit
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		panic(err)
	}
	deployments := cs.AppsV1().Deployments(*ns)
	ctx := context.Background()
	if _, err := deployments.GetScale(ctx, "b-0", metav1.GetOptions{}); err != nil {
		panic(err)
	}
	setup := time.Since(started).Seconds()
	warmEnd := float64(time.Now().UnixNano()) / 1e9
	cpu0, t0 := cpuSeconds(), time.Now()
	var lat []float64
	var rssRounds []int64
	for _, v := range strings.Split(*values, ",") {
		value, _ := strconv.Atoi(v)
		round := make([]float64, *targets)
		sem := make(chan struct{}, *concurrency)
		var wg sync.WaitGroup
		for i := 0; i < *targets; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				name := fmt.Sprintf("b-%d", i)
				t := time.Now()
				for {
					s, err := deployments.GetScale(ctx, name, metav1.GetOptions{})
					if err != nil {
						panic(err)
					}
					if s.Spec.Replicas == int32(value) {
						break
					}
					s.Spec.Replicas = int32(value)
					_, err = deployments.UpdateScale(ctx, name, s, metav1.UpdateOptions{})
					if err == nil {
						break
					}
					if !apierrors.IsConflict(err) {
						panic(err)
					}
				}
				round[i] = time.Since(t).Seconds() * 1000
			}(i)
		}
		wg.Wait()
		lat = append(lat, round...)
		rssRounds = append(rssRounds, statusKB("VmRSS:"))
	}
	out, _ := json.Marshal(map[string]interface{}{
		"warm_end":    warmEnd,
		"cpu":         cpuSeconds() - cpu0,
		"wall":        time.Since(t0).Seconds(),
		"setup":       setup,
		"ops":         len(lat),
		"lat":         lat,
		"rss_peak_kb": statusKB("VmHWM:"),
		"rss_rounds":  rssRounds,
	})
	os.Stdout.Write(out)
}
