// request.cf's geo fields from MaxMind databases (GeoIP2/GeoLite2 City or Country, ASN; any
// .mmdb with the same record shapes, such as DB-IP's lite files). Read with `maxmind` (the
// maintained Node reader over mmdb-lib: pure JavaScript, the whole file in memory, decoded
// records cached), which also reloads a file replaced on disk, so a weekly database update
// needs no restart. Each database a request's address is found in adds its fields; a later
// file wins over an earlier one for a field both give.
import { open, type Reader, type Response } from 'maxmind';
import type { CfField } from './settings';

/** the fields of one record, as [field, value] pairs pushed onto `out` */
type Pairs = (string | number)[];

interface GeoRecord {
  country?: { iso_code?: string; is_in_european_union?: boolean };
  registered_country?: { iso_code?: string; is_in_european_union?: boolean };
  continent?: { code?: string };
  city?: { names?: { en?: string } };
  subdivisions?: { iso_code?: string; names?: { en?: string } }[];
  postal?: { code?: string };
  location?: { latitude?: number; longitude?: number; time_zone?: string; metro_code?: number };
  traits?: { autonomous_system_number?: number; autonomous_system_organization?: string };
  autonomous_system_number?: number;
  autonomous_system_organization?: string;
}

export class GeoIp {
  readonly #readers: Reader<Response>[];

  private constructor(readers: Reader<Response>[]) {
    this.#readers = readers;
  }

  /** opens every file (an unreadable or malformed one rejects, naming it) */
  static async open(files: readonly string[]): Promise<GeoIp> {
    const readers: Reader<Response>[] = [];
    for (const file of files) {
      try {
        readers.push(await open(file, { watchForUpdates: true, watchForUpdatesNonPersistent: true }));
      } catch (error) {
        throw new Error(`cf.geoip: ${file} is not a readable MaxMind database (${(error as Error).message})`);
      }
    }
    return new GeoIp(readers);
  }

  /** pushes the [field, value] pairs the databases know of `address` onto `out` */
  lookup(address: string, out: Pairs): void {
    for (const reader of this.#readers) {
      let record: GeoRecord | null;
      try {
        record = reader.get(address) as GeoRecord | null;
      } catch {
        // an address the database cannot hold (IPv6 in an IPv4-only file)
        continue;
      }
      if (record) pairsOf(record, out);
    }
  }
}

function push(out: Pairs, field: CfField, value: string | number | undefined): void {
  if (value !== undefined && value !== '') out.push(field, value);
}

function pairsOf(r: GeoRecord, out: Pairs): void {
  const country = r.country ?? r.registered_country;
  push(out, 'country', country?.iso_code);
  if (country?.is_in_european_union) push(out, 'isEUCountry', '1');
  push(out, 'continent', r.continent?.code);
  push(out, 'city', r.city?.names?.en);
  const region = r.subdivisions?.[0];
  push(out, 'region', region?.names?.en);
  push(out, 'regionCode', region?.iso_code);
  push(out, 'postalCode', r.postal?.code);
  const location = r.location;
  if (location) {
    // Workers gives coordinates and the metro code as strings
    if (location.latitude !== undefined) push(out, 'latitude', String(location.latitude));
    if (location.longitude !== undefined) push(out, 'longitude', String(location.longitude));
    push(out, 'timezone', location.time_zone);
    if (location.metro_code !== undefined) push(out, 'metroCode', String(location.metro_code));
  }
  push(out, 'asn', r.autonomous_system_number ?? r.traits?.autonomous_system_number);
  push(out, 'asOrganization', r.autonomous_system_organization ?? r.traits?.autonomous_system_organization);
}
