// The JSON API on the same origin. With a token, the HttpOnly cookie set when a page was opened with ?token=
// travels with every request; the token itself is never readable by the page.

export async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = (body && (body.error || (body.errors && body.errors[0] && body.errors[0].msg))) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}
