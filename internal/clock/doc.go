// Package clock is vipd's one injected source of time (house style rule 8):
// the Clock interface that the arbiter, the trackers, the gateway prober,
// the load balancer's checkers and the advert drop counter take; Real, the
// process's clock; and Fake, a clock that tests advance by hand.
package clock
