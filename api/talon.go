package api

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/display/printout"
	"github.com/talon-mfc/talon/queue"
)

// printedTalon is the talon of the booking in the path, answering itself
// when there is none to print.
func (s *Server) printedTalon(c *fasthttp.RequestCtx) (printout.Talon, bool) {
	b, v, ok := s.pathBooking(c)
	if !ok {
		return printout.Talon{}, false
	}
	s.sign(&v)
	when, _ := time.Parse(time.RFC3339, v.Start)
	t := printout.Talon{Number: v.Number, Office: v.OfficeName, Address: v.Address, Service: v.ServiceName,
		When: when.Format("02.01.2006 15:04"), QR: v.QR}
	if t.QR == "" {
		fail(c, 409, string(queue.CodeNotActive), "booking "+b.Number+" is "+string(b.Status)+": it has no talon")
		return t, false
	}
	return t, true
}

func (s *Server) talonPDF(c *fasthttp.RequestCtx) {
	t, ok := s.printedTalon(c)
	if !ok {
		return
	}
	format := string(c.QueryArgs().Peek("format"))
	if format != "" && format != "a4" && format != "receipt" {
		fail(c, 400, "invalid_request", "format must be a4 or receipt")
		return
	}
	b, err := printout.PDF(t, format)
	if err != nil {
		fail(c, 500, "internal", err.Error())
		return
	}
	c.SetContentType("application/pdf")
	c.Response.Header.Set("Content-Disposition", `inline; filename="talon-`+param(c, "id")+`.pdf"`)
	c.SetBody(b)
}

func (s *Server) talonPNG(c *fasthttp.RequestCtx) {
	t, ok := s.printedTalon(c)
	if !ok {
		return
	}
	b, err := printout.PNG(t)
	if err != nil {
		fail(c, 500, "internal", err.Error())
		return
	}
	c.SetContentType("image/png")
	c.SetBody(b)
}
