import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { prefetchPage } from "./api/prefetch";
import { setNavigateHook } from "./router";
// xyflow's base styles first, so that styles.css overrides them (the canvas itself loads lazily)
import "@xyflow/react/dist/style.css";
import "./styles.css";

// a canvas page's read starts now, alongside its lazily loaded code
prefetchPage(window.location.pathname);
setNavigateHook(prefetchPage);

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
