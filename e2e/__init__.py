"""End-to-end harnesses: real kube-apiservers on loopback (``e2e.realapi``)."""
