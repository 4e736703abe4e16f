/* Keyboard access Material leaves out (tests/browser/test_accessibility.py checks each).

   1. A region that scrolls (a wide table, code, a diagram, anything styled overflow: auto) takes
      keyboard focus while it overflows, so arrow keys can scroll it (WCAG 2.1.1). A table's region
      is named after it. Material already does this for code blocks; the rule here is general.
   2. The header's menu and search buttons are <label>s, which Tab skips: below 76 em (a phone, or
      a desktop zoomed to 400 %) a keyboard could neither open the navigation nor search. They
      become buttons that Enter and Space press; Escape closes the open navigation.
   3. While the scheme follows the system's, Material checks neither palette radio, so Tab lands on
      the first, whose label is hidden in the dark scheme: the radio of the scheme shown is checked.
   (extra.css takes what is hidden off the tab order: the closed drawer and search.) */
(() => {
  "use strict";

  const SCROLLS = /^(auto|scroll)$/;
  const NATIVELY_FOCUSABLE = "a[href], button, input, select, textarea, [contenteditable]";
  const regions = new Set();
  const resized = new ResizeObserver(entries => entries.forEach(entry => mark(entry.target)));

  function scrollable(style) {
    return SCROLLS.test(style.overflowX) || SCROLLS.test(style.overflowY);
  }

  function overflows(element) {
    const style = getComputedStyle(element);
    return (
      (SCROLLS.test(style.overflowX) && element.scrollWidth > element.clientWidth + 1) ||
      (SCROLLS.test(style.overflowY) && element.scrollHeight > element.clientHeight + 1)
    );
  }

  // Only attributes this script added are ever removed (data-a11y-region marks them).
  function mark(element) {
    if (overflows(element)) {
      element.setAttribute("tabindex", "0");
      const table = element.querySelector(":scope > .md-typeset__table > table, :scope > table");
      if (table && !element.hasAttribute("role")) {
        const caption = table.querySelector("caption");
        element.setAttribute("role", "region");
        element.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
        element.dataset.a11yRegion = "";
      }
    } else {
      element.removeAttribute("tabindex");
      if ("a11yRegion" in element.dataset) {
        element.removeAttribute("role");
        element.removeAttribute("aria-label");
        delete element.dataset.a11yRegion;
      }
    }
  }

  function watchScrollRegions(root) {
    for (const element of root.querySelectorAll("*")) {
      if (regions.has(element) || element.matches(NATIVELY_FOCUSABLE)) continue;
      // Focus someone else manages (a widget with its own tabindex) is left alone; Material's
      // code blocks set it on the same condition as here, so those are shared.
      if (element.hasAttribute("tabindex") && !element.matches("pre > code")) continue;
      if (!scrollable(getComputedStyle(element))) continue;
      regions.add(element);
      resized.observe(element);
    }
    regions.forEach(element => (element.isConnected ? mark(element) : regions.delete(element)));
  }

  // `focusInside`: where focus goes once the button has opened its panel (the search box).
  function makeButton(label, name, focusInside) {
    if (!label || label.hasAttribute("tabindex")) return;
    const toggle = document.getElementById(label.htmlFor);
    label.setAttribute("tabindex", "0");
    label.setAttribute("role", "button");
    label.setAttribute("aria-label", name);
    // Enter is Material's: its keyboard handler clicks a focused <label>. Space is added here.
    label.addEventListener("keydown", event => {
      if (event.key !== " ") return;
      event.preventDefault();
      label.click();
    });
    label.addEventListener("keyup", event => {
      const pressed = event.key === "Enter" || event.key === " ";
      if (pressed && focusInside && toggle.checked) focusInside.focus();
    });
    // Escape closes the navigation drawer too (Material closes only search), focus back on its
    // button, where the keyboard user opened it.
    if (!focusInside) {
      document.addEventListener("keydown", event => {
        if (event.key !== "Escape" || !toggle.checked) return;
        label.click();
        label.focus();
      });
      return;
    }
    // Escape closes search (Material) and leaves focus in the hidden box or on <body>: give it
    // back to the button.
    document.addEventListener("keyup", event => {
      if (event.key !== "Escape" || toggle.checked || !label.getClientRects().length) return;
      const lost = document.activeElement;
      if (lost === document.body || lost === focusInside) label.focus();
    });
  }

  function checkShownScheme() {
    const options = [...document.querySelectorAll("input.md-option[name='__palette']")];
    if (options.some(option => option.checked)) return;
    const scheme = document.body.dataset.mdColorScheme;
    const shown = options.find(option => option.dataset.mdColorScheme === scheme);
    if (shown) shown.checked = true;
  }

  function start() {
    const content = document.querySelector(".md-content") || document.body;
    watchScrollRegions(content);
    checkShownScheme();
    let pending = false;
    new MutationObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        watchScrollRegions(content);
      });
    }).observe(content, { childList: true, subtree: true });
    makeButton(
      document.querySelector(".md-header label.md-header__button[for='__drawer']"),
      "Navigation",
    );
    makeButton(
      document.querySelector(".md-header label.md-header__button[for='__search']"),
      "Search",
      document.querySelector(".md-search__input"),
    );
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
