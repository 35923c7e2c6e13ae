package functions

import "net/http"

type upstreamFunction struct{ app *App }

func (u *upstreamFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {}
