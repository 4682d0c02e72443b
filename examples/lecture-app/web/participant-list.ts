/** The participant list: name, role, microphone state and raised hand per person. */
import { element } from './dom.js';
import { micDescription, type Participant } from './participants.js';

export function renderParticipants(list: HTMLElement, count: HTMLElement, people: readonly Participant[]): void {
  count.textContent = `(${people.length})`;
  list.replaceChildren(...people.map(participantItem));
}

function participantItem(person: Participant): HTMLLIElement {
  const badges = element(
    'span',
    { className: 'badges' },
    element('span', { className: `badge role-${person.role}`, text: person.role }),
    element('span', { className: `badge mic-${person.mic}`, text: micDescription(person.mic) }),
  );
  if (person.handRaised) badges.append(element('span', { className: 'badge hand', text: 'hand raised' }));
  return element(
    'li',
    { attrs: { 'data-peer': person.peerId, 'data-mic': person.mic } },
    element('span', { className: 'person', text: `${person.name}${person.isLocal ? ' (you)' : ''}` }),
    badges,
  );
}
