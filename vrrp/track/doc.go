// Package track computes a VRRP instance's effective priority from its
// trackers (vrrp_script, track_interface, track_file) exactly as keepalived
// does, and runs the checkers that feed it. RFC 5798 only defines the
// priority field (§5.2.4); tracking is keepalived's extension and its
// behaviour is the reference here.
package track
