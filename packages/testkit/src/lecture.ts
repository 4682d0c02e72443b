/**
 * A short lecture in three parts (photosynthesis, the water cycle, plate
 * tectonics), spoken by flite in the transcription tests and benchmarks. Its
 * words are the reference for the word error rate; its topics let a summary
 * be checked for coverage.
 */
export const LECTURE_PARAGRAPHS = [
  'Good morning everyone, and welcome to the first lecture of our course on the living planet. ' +
    'Today we will look at three processes that shape the world around us: photosynthesis, the water cycle, and plate tectonics. ' +
    'Let us begin with photosynthesis. Plants capture the energy of sunlight with a green pigment called chlorophyll. ' +
    'Inside the leaves, this energy is used to turn carbon dioxide from the air and water from the soil into sugar. ' +
    'Oxygen is released as a by product, and almost all the oxygen we breathe comes from this process. ' +
    'The sugar feeds the plant, and through the food chain it feeds nearly every animal on the planet.',
  'Our second topic is the water cycle. The sun heats the oceans, and water evaporates into the atmosphere as vapour. ' +
    'As the warm air rises, it cools, and the vapour condenses into tiny droplets that form clouds. ' +
    'When the droplets grow heavy enough, they fall back to the ground as rain or snow. ' +
    'Some of this water flows through rivers back to the sea, some soaks into the ground and fills deep aquifers, ' +
    'and some is taken up by plants and returned to the air through their leaves. ' +
    'The same water has been moving through this cycle for billions of years.',
  'Our third topic is plate tectonics. The outer shell of the earth is broken into large rigid plates that float on the hot mantle below. ' +
    'These plates move very slowly, only a few centimetres each year, about as fast as your fingernails grow. ' +
    'Where two plates pull apart, new crust forms from rising magma, as in the middle of the Atlantic ocean. ' +
    'Where two plates collide, one may slide beneath the other, and this creates deep trenches, volcanoes and earthquakes. ' +
    'The highest mountains in the world, such as the Himalayas, were pushed up where two continents crashed into each other. ' +
    'Scientists measure this motion with satellites and with the magnetic stripes recorded in the rocks of the ocean floor. ' +
    'These three processes are connected. Volcanoes release carbon dioxide that plants later capture, ' +
    'and mountains raised by the plates force moist air upwards, so that it rains on one side of the range and stays dry on the other. ' +
    'To summarise, sunlight powers life through photosynthesis, the water cycle moves water between sea, sky and land, ' +
    'and the slow motion of the plates builds the continents themselves. Thank you for listening, and see you next week.',
];

export const LECTURE_TEXT = LECTURE_PARAGRAPHS.join(' ');

/** Lower case words without punctuation; numbers and hyphenated words kept as spoken tokens. */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[-–]/g, ' ')
    .replace(/[^a-z0-9' ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** Word error rate: word-level edit distance between reference and hypothesis, over the reference length. */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  if (ref.length === 0) return hyp.length === 0 ? 0 : 1;
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) {
      const sub = prev[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1));
    }
    prev = cur;
  }
  return prev[hyp.length]! / ref.length;
}
