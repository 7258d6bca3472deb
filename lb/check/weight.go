package check

import "github.com/vipd/vipd/config"

// Alive reports whether a real server is alive: all its checkers are up
// (num_failed_checkers == 0, ipwrapper.c). No checkers means alive.
func Alive(checkers []Status) bool {
	for _, s := range checkers {
		if !s.Up {
			return false
		}
	}
	return true
}

// MaxWeight bounds an effective weight: the most a real server's weight
// may be written (keepalived clamps at INT32_MAX, real_weight in
// check_data.h; vipd's planes take 0..65535).
const MaxWeight = 65535

// EffectiveWeight returns the weight to program for rs and whether it is
// alive. misc_dynamic weights act as offsets from the configured weight
// (check_misc.c adds status-2-iweight), so with one dynamic checker the
// weight is exactly what it asked for; FILE_CHECK offsets are added
// (check_file.c). The result is clamped to 0..MaxWeight. A dead server
// gets weight 0; it stays in the table only with inhibit_on_failure (see
// InTable).
func EffectiveWeight(rs config.RealServer, st []Status) (weight int, alive bool) {
	if !Alive(st) {
		return 0, false
	}
	weight = rs.Weight
	for _, s := range st {
		if s.Weight >= 0 {
			weight += s.Weight - rs.Weight
		}
		weight += s.Offset
	}
	return min(max(weight, 0), MaxWeight), true
}

// InTable reports whether rs belongs in the kernel table: alive, or dead
// but kept at weight 0 by inhibit_on_failure (ipvswrapper.c:564-577).
func InTable(rs config.RealServer, alive bool) bool {
	return alive || rs.InhibitOnFailure
}

// Quorum returns whether vs has quorum given w, the sum of its live real
// servers' weights, and the previous state was (ipwrapper.c
// update_quorum_state): quorum is gained when w > 0 and
// w >= quorum+hysteresis and lost when w == 0 or w < quorum-hysteresis.
func Quorum(vs config.VirtualServer, w int, was bool) (up bool) {
	q := vs.Quorum
	if q < 1 {
		q = 1 // keepalived's default and minimum
	}
	if was {
		return w > 0 && w >= q-vs.Hysteresis
	}
	return w > 0 && w >= q+vs.Hysteresis
}
