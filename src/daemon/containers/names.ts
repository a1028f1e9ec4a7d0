// Names for containers created without --name, in Docker's adjective_noun
// shape, from word lists of our own.

import { randomInt } from 'node:crypto';

const ADJ = [
  'brave',
  'calm',
  'eager',
  'fancy',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'proud',
  'quiet',
  'rapid',
  'sharp',
  'tidy',
  'vivid',
  'witty',
  'young',
  'zesty',
  'bold',
  'crisp',
  'deft',
  'fond',
];
const NOUN = [
  'anchor',
  'beacon',
  'cove',
  'dock',
  'estuary',
  'ferry',
  'galley',
  'harbor',
  'island',
  'jetty',
  'keel',
  'lagoon',
  'mast',
  'narrows',
  'oar',
  'pier',
  'quay',
  'rudder',
  'shoal',
  'tide',
  'wharf',
  'buoy',
  'hull',
  'reef',
];

export function randomName(): string {
  return `${ADJ[randomInt(ADJ.length)]}_${NOUN[randomInt(NOUN.length)]}_${randomInt(1000)}`;
}
