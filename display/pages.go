package display

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"mime"
	"path"
	"regexp"

	"github.com/valyala/fasthttp"
)

//go:embed web
var web embed.FS

// Page serves one of the embedded pages: display, window, operator, kiosk,
// checkin or portal. The page reads its office (and window) from the path.
// Its Content-Security-Policy allows the page's own inline script (by hash),
// the shared script and style sheet, the API and the feed of this origin,
// and no framing.
func Page(name string) fasthttp.RequestHandler {
	b, err := web.ReadFile("web/" + name + ".html")
	if err != nil {
		panic("display: no page " + name)
	}
	csp := policy(b)
	return func(c *fasthttp.RequestCtx) {
		c.SetContentType("text/html; charset=utf-8")
		c.Response.Header.Set("Cache-Control", "no-cache")
		c.Response.Header.Set("Content-Security-Policy", csp)
		c.SetBody(b)
	}
}

var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// policy is the Content-Security-Policy of a page.
func policy(page []byte) string {
	scripts := "'self'"
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[1])
		scripts += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'none'; script-src " + scripts + "; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
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
