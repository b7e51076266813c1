package api

import (
	"context"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// WorkerHeartbeat registers or refreshes a worker.
func (s *Server) WorkerHeartbeat(ctx context.Context, req apigen.WorkerHeartbeatRequestObject) (apigen.WorkerHeartbeatResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	var handlers []string
	if req.Body.Handlers != nil {
		handlers = *req.Body.Handlers
		if handlers == nil {
			handlers = []string{}
		}
	}
	now, err := s.deps.Workers.Heartbeat(ctx, u, req.Body.WorkerID, handlers)
	if err != nil {
		return nil, err
	}
	return apigen.WorkerHeartbeat200JSONResponse{Acknowledged: true, ServerTime: now.UTC()}, nil
}

// ListWorkers lists the caller's workers.
func (s *Server) ListWorkers(ctx context.Context, _ apigen.ListWorkersRequestObject) (apigen.ListWorkersResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := s.deps.Workers.List(ctx, u)
	if err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	out := apigen.WorkerList{Workers: make([]apigen.Worker, 0, len(ws))}
	for _, w := range ws {
		age := now.Sub(w.LastHeartbeat)
		if age < 0 {
			age = 0
		}
		item := apigen.Worker{
			WorkerID: w.WorkerID, LastHeartbeat: w.LastHeartbeat.UTC(), SecondsSinceHeartbeat: int(age / time.Second),
			HeartbeatStatus: apigen.HeartbeatStatus(core.HeartbeatStatus(age)), RegisteredSince: w.CreatedAt.UTC(),
		}
		if w.Handlers != nil {
			h := w.Handlers
			item.Handlers = &h
		}
		out.Workers = append(out.Workers, item)
	}
	return apigen.ListWorkers200JSONResponse(out), nil
}

// DeleteWorker removes a worker registration.
func (s *Server) DeleteWorker(ctx context.Context, req apigen.DeleteWorkerRequestObject) (apigen.DeleteWorkerResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Workers.Delete(ctx, u, string(req.WorkerID)); err != nil {
		return nil, err
	}
	return apigen.DeleteWorker204Response{}, nil
}
