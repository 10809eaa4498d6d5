// The data module: plain values, imported by the handlers.
export const quotes: readonly { author: string; text: string }[] = [
  { author: 'Ada Lovelace', text: 'That brain of mine is something more than merely mortal; as time will show.' },
  { author: 'Grace Hopper', text: 'The most dangerous phrase in the language is, "We have always done it this way."' },
  { author: 'Edsger Dijkstra', text: 'Simplicity is prerequisite for reliability.' },
  { author: 'Alan Kay', text: 'The best way to predict the future is to invent it.' },
];
