// The API reference at /docs: Scalar (vendored, console/vendor/scalar/) rendering the server's
// own openapi.json. Everything Scalar would fetch from or send to its own services is off, so
// the page works on a machine without internet access and tells nobody it was opened.
'use strict';

Scalar.createApiReference('#reference', {
  // Relative to /docs, so a path prefix in front of txlake is kept.
  url: 'openapi.json',
  // The document names no server; requests tried from the page (and the code samples) go to
  // the one that served it, prefix included.
  servers: [{ url: new URL('.', document.baseURI).href.replace(/\/$/, ''), description: 'this server' }],
  // Scalar's default fonts come from fonts.scalar.com; system fonts instead.
  withDefaultFonts: false,
  telemetry: false,
  // The AI chat and the MCP generator talk to Scalar's servers; the developer tools are for
  // configuring Scalar itself.
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: 'never',
  // Its sidebar button opens the spec in client.scalar.com; each operation's "Test Request"
  // opens the bundled client in this page instead.
  hideClientButton: true,
  // A dozen operations: list them all in the sidebar rather than one tag at a time.
  defaultOpenAllTags: true,
  metaData: { title: 'txlake API reference' },
});
