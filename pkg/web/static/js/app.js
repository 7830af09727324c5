// Placeholder: the page's modules replace this file.
const status = document.getElementById('status');
const res = await fetch('config.json');
const cfg = await res.json();
status.textContent = `vtpeer page ${cfg.version}: signaling at ${cfg.signalPath}`;
