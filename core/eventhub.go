package core

import (
	"context"
	"sync"
	"sync/atomic"
)

// EventHub wakes held long-polls: one subscription to the change feed (so
// an event written by any replica reaches this one) fanned out by recipient
// agent to the polls waiting for it. A wake-up is a hint to re-read; a lost
// one only delays a poll until its next periodic re-read. Safe for
// concurrent use.
type EventHub struct {
	feed ChangeFeed

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	woken   atomic.Int64
	ready   chan struct{}
	once    sync.Once
}

// NewEventHub returns a hub over feed; Run it.
func NewEventHub(feed ChangeFeed) *EventHub {
	return &EventHub{feed: feed, waiters: map[string]map[chan struct{}]struct{}{}, ready: make(chan struct{})}
}

// Run delivers the feed's event changes to waiters until ctx ends.
func (h *EventHub) Run(ctx context.Context) {
	ch, cancel := h.feed.Subscribe(ctx, "")
	defer cancel()
	h.once.Do(func() { close(h.ready) })
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-ch:
			if !ok {
				return
			}
			if c.Kind == ChangeEvent {
				h.Notify(c.EntityID)
			}
		}
	}
}

// Notify wakes every poll waiting for agent (without blocking).
func (h *EventHub) Notify(agent string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters[agent] {
		h.woken.Add(1)
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Wait registers a waiter for agent's next event; cancel unregisters it.
func (h *EventHub) Wait(agent string) (<-chan struct{}, func()) {
	w := make(chan struct{}, 1)
	h.mu.Lock()
	set := h.waiters[agent]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		h.waiters[agent] = set
	}
	set[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if set := h.waiters[agent]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(h.waiters, agent)
			}
		}
	}
}

// Waiting reports how many polls are held (tests, bench).
func (h *EventHub) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.waiters {
		n += len(set)
	}
	return n
}

// Woken counts the wake-ups handed to held polls (tests).
func (h *EventHub) Woken() int64 { return h.woken.Load() }

// Ready is closed once Run listens to the feed.
func (h *EventHub) Ready() <-chan struct{} { return h.ready }
