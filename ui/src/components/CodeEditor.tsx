import { useEffect, useRef } from "react";

/** CodeMirror 6 with Python highlighting; loaded on first use so the first page stays small. */
export default function CodeEditor({
  value,
  onChange,
  label,
  dark,
}: {
  value: string;
  onChange: (value: string) => void;
  label: string;
  dark: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<import("@codemirror/view").EditorView | null>(null);
  const latest = useRef(onChange);
  latest.current = onChange;

  // biome-ignore lint/correctness/useExhaustiveDependencies: made once per theme; value syncs below
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const [{ basicSetup, EditorView }, { python }, { EditorState }] = await Promise.all([
        import("codemirror"),
        import("@codemirror/lang-python"),
        import("@codemirror/state"),
      ]);
      if (cancelled || !host.current) return;
      view.current = new EditorView({
        parent: host.current,
        state: EditorState.create({
          doc: value,
          extensions: [
            basicSetup,
            python(),
            EditorView.theme({}, { dark }),
            EditorView.contentAttributes.of({ "aria-label": label }),
            EditorView.updateListener.of((u) => {
              if (u.docChanged) latest.current(u.state.doc.toString());
            }),
          ],
        }),
      });
    })();
    return () => {
      cancelled = true;
      view.current?.destroy();
      view.current = null;
    };
  }, [dark]);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  return <div className="code-editor" ref={host} data-testid="code-editor" />;
}
