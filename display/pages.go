package display

import (
	"embed"
	"mime"
	"path"

	"github.com/valyala/fasthttp"
)

//go:embed web
var web embed.FS

// Page serves one of the embedded pages: display, window, operator, kiosk,
// checkin or portal. The page reads its office (and window) from the path.
func Page(name string) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		b, err := web.ReadFile("web/" + name + ".html")
		if err != nil {
			c.Error("no such page", 404)
			return
		}
		c.SetContentType("text/html; charset=utf-8")
		c.Response.Header.Set("Cache-Control", "no-cache")
		c.SetBody(b)
	}
}

// Static serves the pages' script and style sheet (GET /static/{file}).
func Static(c *fasthttp.RequestCtx) {
	name, _ := c.UserValue("file").(string)
	b, err := web.ReadFile("web/" + path.Base(name))
	if err != nil || path.Ext(name) == ".html" {
		c.Error("not found", 404)
		return
	}
	c.SetContentType(mime.TypeByExtension(path.Ext(name)))
	c.Response.Header.Set("Cache-Control", "max-age=300")
	c.SetBody(b)
}
