package vrrp_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vipd/vipd/vrrp"
)

// A runner owns the clock: it feeds inputs with the current time, carries
// out the returned actions in order, and calls Tick at NextDeadline.
func ExampleMachine() {
	p := vrrp.DefaultParams()
	p.Name, p.Priority = "VI_1", 150
	p.PrimaryAddr = netip.MustParseAddr("192.168.1.10")
	p.Grant = func(time.Time) bool { return true } // the arbiter's current grant
	m := vrrp.NewMachine(p)

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	show := func(acts []vrrp.Action) {
		for _, a := range acts {
			if tr, ok := a.(vrrp.Transition); ok {
				fmt.Printf("  %v -> %v (%s) at +%v\n", tr.From, tr.To, tr.Reason, tr.At.Sub(t0))
				continue
			}
			fmt.Printf("  %T%+v\n", a, a)
		}
	}
	fmt.Println("start:")
	show(m.Start(t0))
	fmt.Println("down timer:", m.NextDeadline().Sub(t0))
	show(m.Tick(m.NextDeadline()))
	fmt.Println("a higher priority router appears:")
	show(m.ReceiveAdvert(t0.Add(5*time.Second), vrrp.AdvertInfo{Priority: 200, Src: netip.MustParseAddr("192.168.1.11")}))
	// Output:
	// start:
	//   vrrp.RemoveVIPs{}
	//   INIT -> BACKUP (startup) at +0s
	// down timer: 3.4140625s
	//   vrrp.SendAdvert{Priority:150}
	//   vrrp.AddVIPs{Preempted:invalid IP}
	//   vrrp.Announce{}
	//   BACKUP -> MASTER (master down timer expired) at +3.4140625s
	// a higher priority router appears:
	//   vrrp.RemoveVIPs{}
	//   MASTER -> BACKUP (higher priority advert from 192.168.1.11 (prio 200)) at +5s
}
