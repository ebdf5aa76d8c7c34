/* The search icon that Django's filter_horizontal widget (SelectFilter2.js) puts in the label
   of each of its filter boxes carries an aria-label on a bare span, which ARIA prohibits (a
   generic element has no name, and screen readers may drop it; axe-core aria-prohibited-attr).
   As an image (role="img") it may have the label, and the box it labels is named by it. The
   widget draws its icons in SelectFilter.init (on load, and for each inline form added), so
   this script, deferred until SelectFilter2.js has run, names them after each call. */
'use strict';
{
    const filter = window.SelectFilter;
    if (filter) {
        const init = filter.init;
        filter.init = function(...args) {
            init.apply(this, args);
            for (const icon of document.querySelectorAll('.selector .search-label-icon')) {
                icon.setAttribute('role', 'img');
            }
        };
    }
}
