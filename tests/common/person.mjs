// A person at a browser, played with fetch and a cookie jar, for the tests that run
// third-party clients (openid-client, the MCP SDK) against a real Latchkey: it
// follows redirects, signs in and approves consent by submitting the pages' own
// forms, the way a browser would.

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const unescape = (s) =>
  s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCharCode(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

// The fields of the first form posting to `action` on the page.
function formFields(html, action) {
  const start = html.indexOf(`action="${action}"`);
  check(start >= 0, `a form posting to ${action}`);
  const form = html.slice(start, html.indexOf("</form>", start));
  const fields = new URLSearchParams();
  for (const m of form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.append(unescape(m[1]), unescape(m[2]));
  }
  return fields;
}

export class Person {
  // `issuer`: Latchkey's base URL; the person signs in as `username`/`password`.
  constructor(issuer, username, password) {
    this.issuer = issuer;
    this.username = username;
    this.password = password;
    this.jar = new Map();
  }

  remember(resp) {
    for (const line of resp.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const [name, value] = pair.split("=");
      const expired = attrs.some((a) => a.trim().toLowerCase() === "max-age=0");
      if (expired) this.jar.delete(name.trim());
      else this.jar.set(name.trim(), value.trim());
    }
  }

  // One request with the person's cookies; redirects are not followed.
  async request(url, init = {}) {
    const headers = new Headers(init.headers || {});
    if (this.jar.size) {
      headers.set("cookie", [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const resp = await fetch(url, { ...init, headers, redirect: "manual" });
    this.remember(resp);
    return resp;
  }

  // Follows the browser from `url` until it is sent to `stopAt`; signs in and
  // approves on the way. Returns the final URL, the kinds of page seen in order
  // ("login", "consent") and the last page of each kind.
  async browse(url, stopAt) {
    const seen = [];
    const pages = {};
    for (let hops = 0; hops < 12; hops++) {
      if (url.startsWith(stopAt)) return { url, seen, pages };
      const resp = await this.request(url);
      if (resp.status >= 300 && resp.status < 400) {
        url = new URL(resp.headers.get("location"), url).href;
        continue;
      }
      const html = await resp.text();
      check(resp.status === 200, `page ${url} answered ${resp.status}: ${html.slice(0, 300)}`);
      let action, fields;
      if (html.includes('action="/login"')) {
        action = "/login";
        fields = formFields(html, action);
        fields.set("username", this.username);
        fields.set("password", this.password);
        seen.push("login");
      } else if (html.includes('action="/oauth/authorize"')) {
        action = "/oauth/authorize";
        fields = formFields(html, action);
        fields.set("decision", "approve");
        seen.push("consent");
      } else {
        throw new Error(`unexpected page at ${url}: ${html.slice(0, 300)}`);
      }
      pages[seen.at(-1)] = html;
      const posted = await this.request(new URL(action, this.issuer), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: fields.toString(),
      });
      check(posted.status === 303, `${action} answered ${posted.status}`);
      url = new URL(posted.headers.get("location"), this.issuer).href;
    }
    throw new Error("too many redirects");
  }
}
