// The client-go peer of benches/run.py: what a Go user writes with client-go (the one the
// local control plane's Kubernetes 1.20 source tree vendors), on its default transport
// (HTTP/2 over TLS). Per operation: GetScale, and if the count differs, UpdateScale with the
// resourceVersion read (a 409 Conflict reads again). Client-side rate limiting is off
// (QPS -1), as controllers raise it. With -events, each change also records a SuccessToScale
// Event through client-go's events.k8s.io recorder (tools/events, as the kube-scheduler
// records): the first occurrence per Deployment is created, the second patched into a series,
// later ones only counted in its cache; the measured time lasts until its writes are done. Same
// arguments and JSON output as benches/clients.py (latencies in milliseconds).
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
	"sync/atomic"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"
)

// countingSink is client-go's Event sink, counting the writes in flight and when the last ended,
// so that the measured time can last until the recorder's writes are done.
type countingSink struct {
	events.EventSinkImpl
	inflight int64
	lastDone int64 // UnixNano
}

func (c *countingSink) track(f func() (*eventsv1.Event, error)) (*eventsv1.Event, error) {
	atomic.AddInt64(&c.inflight, 1)
	defer func() {
		atomic.StoreInt64(&c.lastDone, time.Now().UnixNano())
		atomic.AddInt64(&c.inflight, -1)
	}()
	return f()
}

func (c *countingSink) Create(e *eventsv1.Event) (*eventsv1.Event, error) {
	return c.track(func() (*eventsv1.Event, error) { return c.EventSinkImpl.Create(e) })
}

func (c *countingSink) Update(e *eventsv1.Event) (*eventsv1.Event, error) {
	return c.track(func() (*eventsv1.Event, error) { return c.EventSinkImpl.Update(e) })
}

func (c *countingSink) Patch(e *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	return c.track(func() (*eventsv1.Event, error) { return c.EventSinkImpl.Patch(e, data) })
}

// settle waits until no write is in flight and none ended for a while (the recorder hands each
// Event to a goroutine of its own, so there is nothing to join).
func (c *countingSink) settle() {
	for {
		time.Sleep(20 * time.Millisecond)
		quiet := time.Since(time.Unix(0, atomic.LoadInt64(&c.lastDone)))
		if atomic.LoadInt64(&c.inflight) == 0 && quiet > 300*time.Millisecond {
			return
		}
	}
}

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
	withEvents := flag.Bool("events", false, "record an Event per change")
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
	sink := &countingSink{EventSinkImpl: events.EventSinkImpl{Interface: cs.EventsV1()}}
	var recorder events.EventRecorder
	if *withEvents {
		broadcaster := events.NewBroadcaster(sink)
		stop := make(chan struct{})
		defer close(stop)
		broadcaster.StartRecordingToSink(stop)
		recorder = broadcaster.NewRecorder(scheme.Scheme, "client-go-peer")
	}
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
					previous := s.Spec.Replicas
					s.Spec.Replicas = int32(value)
					_, err = deployments.UpdateScale(ctx, name, s, metav1.UpdateOptions{})
					if err == nil {
						if recorder != nil {
							// Without a resourceVersion: the recorder's series key holds the
							// whole reference, so one would make every change a new Event.
							regarding := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
								Name: name, Namespace: *ns, UID: s.UID}}
							recorder.Eventf(regarding, nil, "Normal", "SuccessToScale", "Scale",
								"Scaled deployment/%s from %d to %d replicas", name, previous, value)
						}
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
	wall := time.Since(t0).Seconds()
	if recorder != nil {
		sink.settle()
		if done := time.Unix(0, atomic.LoadInt64(&sink.lastDone)).Sub(t0).Seconds(); done > wall {
			wall = done
		}
	}
	out, _ := json.Marshal(map[string]interface{}{
		"warm_end":    warmEnd,
		"cpu":         cpuSeconds() - cpu0,
		"wall":        wall,
		"setup":       setup,
		"ops":         len(lat),
		"lat":         lat,
		"rss_peak_kb": statusKB("VmHWM:"),
		"rss_rounds":  rssRounds,
	})
	os.Stdout.Write(out)
}
