// Package sdnotify is a minimal client for systemd's service notification
// protocol (sd_notify(3)): vipd reports READY, RELOADING and STOPPING and
// sends watchdog keep-alives so a unit with Type=notify and WatchdogSec=
// knows when it is up and restarts it when its engine hangs.
package sdnotify
