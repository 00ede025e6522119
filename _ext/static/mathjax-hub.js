// The ipywidgets HTML manager typesets widget labels with MathJax 2's `MathJax.Hub.Queue`; the book
// loads MathJax 3, which has no Hub. Give it the one call the manager makes, on MathJax 3's API.
// Loaded with `defer` after MathJax itself, so `window.MathJax` is the loaded MathJax 3 object.
(function () {
  if (!window.MathJax || window.MathJax.Hub || !window.MathJax.typesetPromise) return;
  window.MathJax.Hub = {
    Queue: function (command) {
      var element = Array.isArray(command) ? command[2] : undefined;
      if (!element) return;
      window.MathJax.startup.promise.then(function () {
        return window.MathJax.typesetPromise([element]);
      });
    },
  };
})();
