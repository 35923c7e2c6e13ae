package functions

import (
	"context"

	"github.com/funcsignalr/funcsignalr/handler"
)

// hostGeneric adapts a GenericFunc to the host's invocation payload.
func hostGeneric(fn GenericFunc) handler.InvokeFunc {
	return func(ctx context.Context, _ handler.Function, req *handler.InvokeRequest) (*handler.InvocationResult, error) {
		res, err := fn(ctx, &InvokeRequest{Data: req.Data, Metadata: req.Metadata})
		if err != nil || res == nil {
			return nil, err
		}
		return &handler.InvocationResult{Outputs: res.Outputs, Logs: res.Logs, ReturnValue: res.ReturnValue}, nil
	}
}
