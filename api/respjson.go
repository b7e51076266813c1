package api

import (
	"net/http"
	"sync"

	"github.com/cueapi/cueapi/api/apigen"
)

// executionResponse is GET /v1/executions/{id}'s 200 answer, written as
// the generated GetExecution200JSONResponse would write it, from the
// execution's own encoder (apigen.Execution.AppendJSON).
type executionResponse apigen.Execution

func (r *executionResponse) VisitGetExecutionResponse(w http.ResponseWriter) error {
	return writeAppended(w, http.StatusOK, (*apigen.Execution)(r).AppendJSON)
}

// cueDetailResponse is GET /v1/cues/{id}'s 200 answer, written as the
// generated GetCue200JSONResponse would write it, from the detail's own
// encoder (apigen.CueDetail.AppendJSON).
type cueDetailResponse apigen.CueDetail

func (r *cueDetailResponse) VisitGetCueResponse(w http.ResponseWriter) error {
	return writeAppended(w, http.StatusOK, (*apigen.CueDetail)(r).AppendJSON)
}

// cueListResponse is GET /v1/cues's 200 answer, written as the generated
// ListCues200JSONResponse would write it (apigen.CueList.AppendJSON).
type cueListResponse apigen.CueList

func (r *cueListResponse) VisitListCuesResponse(w http.ResponseWriter) error {
	return writeAppended(w, http.StatusOK, (*apigen.CueList)(r).AppendJSON)
}

// executionListResponse is GET /v1/executions's 200 answer, written as the
// generated ListExecutions200JSONResponse would write it
// (apigen.ExecutionList.AppendJSON).
type executionListResponse apigen.ExecutionList

func (r *executionListResponse) VisitListExecutionsResponse(w http.ResponseWriter) error {
	return writeAppended(w, http.StatusOK, (*apigen.ExecutionList)(r).AppendJSON)
}

// jsonBufs recycles response buffers.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeAppended writes the JSON that appendTo appends, followed by a newline
// (as json.Encoder does), with the status: the generated strict responses'
// output. Nothing is written when appendTo fails.
func writeAppended(w http.ResponseWriter, status int, appendTo func([]byte) ([]byte, error)) error {
	bp := jsonBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			jsonBufs.Put(bp)
		}
	}()
	b, err := appendTo((*bp)[:0])
	if err != nil {
		return err
	}
	b = append(b, '\n')
	*bp = b
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}
