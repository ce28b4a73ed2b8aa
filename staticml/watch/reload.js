// staticml serve --watch: reloads the page when the app was rebuilt, and shows a failed
// build's error over it while the last good build keeps being served. The server adds this
// script to every page it serves; builds never contain it.
const events = new EventSource("/__staticml/events");
let seen = null;

events.addEventListener("state", (event) => {
  const state = JSON.parse(event.data);
  if (seen !== null && state.generation !== seen) {
    location.reload();
    return;
  }
  seen = state.generation;
  show(state.error);
});

function show(error) {
  let box = document.getElementById("staticml-build-error");
  if (!error) {
    if (box) box.remove();
    return;
  }
  if (!box) {
    box = document.createElement("pre");
    box.id = "staticml-build-error";
    box.setAttribute("role", "alert");
    // Set through the CSSOM: the site's CSP refuses style attributes and inline styles.
    Object.assign(box.style, {
      position: "fixed", left: "0", right: "0", bottom: "0", zIndex: "2147483647", margin: "0",
      maxHeight: "50vh", overflow: "auto", padding: "1em", whiteSpace: "pre-wrap",
      background: "#3b0d0d", color: "#fff", font: "13px/1.4 monospace",
    });
    document.body.append(box);
  }
  box.textContent = `The last build failed; this page is the last good one.\n\n${error}`;
}
