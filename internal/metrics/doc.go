// Package metrics exports vipd's state to Prometheus: a collector that reads
// the control.Status snapshot at scrape time, and the /metrics HTTP server.
package metrics
