// ketabot's chat page, its own behaviour; its words come from window.kbWords (the clinic's language):
// - the question box's counter: silent at first, a count from 80 % of the limit, a plain
//   warning above it (the server then answers that the question is too long);
// - [n] markers that open their source;
// - rating buttons with visible labels, and messages named by their text, not their markup;
// - after a rating, the thank-you and comment box brought into view;
// - when the server cannot be reached, a calm notice with the numbers to call.
const kbWords = window.kbWords || {};
// Served as its own page, the chat owns the document; as a <gradio-app> web component on a
// clinic's page it is a guest there: its language goes on the component, not on the clinic's
// <html>, and its title is not a second <h1> of the clinic's page.
const kbOwnPage = () => typeof window.gradio_config === 'object';
const kbPlace = () => {
  if (kbOwnPage()) {
    document.documentElement.lang = window.kbLang;
    return;
  }
  document.querySelectorAll('gradio-app').forEach((app) => app.setAttribute('lang', window.kbLang));
  document.querySelectorAll('gradio-app .kb-header h1').forEach((title) => {
    const guest = document.createElement('p');
    guest.className = 'kb-title';
    guest.setAttribute('role', 'heading');
    guest.setAttribute('aria-level', '2');
    guest.textContent = title.textContent;
    title.replaceWith(guest);
  });
};
kbPlace();
document.addEventListener('DOMContentLoaded', kbPlace);
const kbFill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k]);
document.addEventListener('input', (event) => {
  if (!event.target.closest || !event.target.closest('#kb-question')) { return; }
  const count = document.getElementById('kb-count');
  if (!count) { return; }
  const max = Number(count.dataset.max), used = event.target.value.length;
  const over = used > max;
  count.textContent = over ? kbFill(kbWords.count_over, {used, max})
    : (used > 0.8 * max ? kbFill(kbWords.count_near, {used, max}) : '');
  count.classList.toggle('kb-count-over', over);
});
document.addEventListener('click', (event) => {
  const cite = event.target.closest && event.target.closest('a.kb-cite');
  if (cite) {
    const source = document.getElementById(cite.getAttribute('href').slice(1));
    if (!source) { return; }
    event.preventDefault();
    source.open = true;
    source.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    source.querySelector('summary').focus({preventScroll: true});
    return;
  }
  if (event.target.closest && event.target.closest('button[data-kb-rate]')) {
    setTimeout(() => {
      const panel = document.getElementById('kb-feedback');
      if (panel) { panel.scrollIntoView({block: 'nearest', behavior: 'smooth'}); }
    }, 400);
  }
});
const kbNames = () => {
  const rate = {Like: ['up', kbWords.helpful], Dislike: ['down', kbWords.not_helpful]};
  document.querySelectorAll('#kb-chat button[aria-label="Like"], #kb-chat button[aria-label="Dislike"]')
    .forEach((button) => {
      const [way, label] = rate[button.getAttribute('aria-label')];
      button.dataset.kbRate = way;
      button.dataset.kbLabel = label;
      button.setAttribute('aria-label', label);
    });
  document.querySelectorAll(`#kb-chat [aria-label^="bot's message"], #kb-chat [aria-label^="user's message"]`)
    .forEach((message) => {
      const who = message.getAttribute('aria-label').startsWith('bot') ? kbWords.reply_name
        : kbWords.question_name;
      const text = message.innerText.replace(/\s+/g, ' ').trim().slice(0, 160);
      message.setAttribute('aria-label', `${who}: ${text}`);
    });
};
let kbPending = false;
new MutationObserver(() => {
  if (kbPending) { return; }
  kbPending = true;
  requestAnimationFrame(() => { kbPending = false; kbNames(); kbPlace(); kbToast(); });
}).observe(document.documentElement, {childList: true, subtree: true});
const kbReachable = async () => {
  try {
    const response = await fetch(kbWords.health, {cache: 'no-store'});
    return response.ok;
  } catch (error) { return false; }
};
// Only on the chat's own page: as a web component the page is the clinic's, and its address
// is not the chat server's. One check at a time, at most one every 3 s.
let kbChecking = false, kbCheckedAt = 0;
const kbCheck = async () => {
  if (!kbOwnPage() || kbChecking || Date.now() - kbCheckedAt < 3000) { return; }
  kbChecking = true;
  const offline = !(await kbReachable());
  kbChecking = false;
  kbCheckedAt = Date.now();
  document.body.classList.toggle('kb-offline', offline);
  let notice = document.getElementById('kb-offline');
  if (offline && !notice) {
    notice = document.createElement('div');
    notice.id = 'kb-offline';
    notice.setAttribute('role', 'alert');
    notice.innerHTML = kbWords.offline_html;
    document.body.prepend(notice);
  } else if (!offline && notice) { notice.remove(); }
};
setInterval(() => { if (document.visibilityState === 'visible') { kbCheck(); } }, 10000);
window.addEventListener('offline', kbCheck);
window.addEventListener('online', kbCheck);
// An error toast may mean the server is gone: check (the same observer as the names, above).
const kbToast = () => {
  if (document.querySelector('.toast-body.error') && !document.body.classList.contains('kb-offline')) {
    kbCheck();
  }
};
// Inside a clinic's iframe: a chat of fixed height (a height in vh would grow with the frame
// it sizes), and the page's height sent to the clinic's page, which may size the frame to it
// (the README's snippet). Only a number is sent; nothing about the conversation.
if (window.parent !== window) {
  document.documentElement.classList.add('kb-embedded');
  let kbSent = 0;
  let kbWatched = null;
  const kbReport = () => {
    const app = document.querySelector('.gradio-container') || document.body;
    // The container itself, once it exists: it can grow with no change to the DOM (a style
    // or font settling), which neither observer below would see.
    if (app !== kbWatched) { kbWatched = app; new ResizeObserver(kbReport).observe(app); }
    const height = Math.ceil(app.getBoundingClientRect().bottom + window.scrollY + 16);
    if (Math.abs(height - kbSent) > 2) {
      kbSent = height;
      window.parent.postMessage({ketabotHeight: height}, '*');
    }
  };
  new ResizeObserver(kbReport).observe(document.documentElement);
  new MutationObserver(kbReport).observe(document.documentElement, {childList: true, subtree: true});
}
