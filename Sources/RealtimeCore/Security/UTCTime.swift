/// Times as ISO 8601 / RFC 3339 text, without Foundation: seconds since 1970 (UTC) to and from
/// `YYYY-MM-DDTHH:MM:SSZ`. Parsing is strict: exactly that shape, `Z` or a `±HH:MM` offset, no
/// fractions, no lowercase `t`/`z`, no leap second, a day that exists in its month, years 0000
/// to 9999. The civil-date arithmetic is the proleptic Gregorian calendar (Howard Hinnant's
/// days-from-civil algorithms).
public enum UTCTime {
  /// 0000-01-01T00:00:00Z.
  public static let earliest: Int64 = -62_167_219_200
  /// 9999-12-31T23:59:59Z.
  public static let latest: Int64 = 253_402_300_799

  /// Days from 1970-01-01 to `year`-`month`-`day` (month 1...12, day 1...31).
  static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// The civil date `days` after 1970-01-01.
  static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

  static func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: isLeap(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  /// `seconds` as `YYYY-MM-DDTHH:MM:SSZ`, or nil outside years 0000 to 9999.
  public static func format(_ seconds: Int64) -> String? {
    guard seconds >= earliest, seconds <= latest else { return nil }
    let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    let inDay = seconds - days * 86400
    let date = civil(days: days)
    var out = [UInt8]()
    out.reserveCapacity(20)
    func digits(_ value: Int64, _ width: Int) {
      var divisor: Int64 = 1
      for _ in 1..<width { divisor *= 10 }
      var v = value
      while divisor > 0 {
        out.append(UInt8(ascii: "0") + UInt8(v / divisor))
        v %= divisor
        divisor /= 10
      }
    }
    digits(date.year, 4)
    out.append(UInt8(ascii: "-"))
    digits(date.month, 2)
    out.append(UInt8(ascii: "-"))
    digits(date.day, 2)
    out.append(UInt8(ascii: "T"))
    digits(inDay / 3600, 2)
    out.append(UInt8(ascii: ":"))
    digits(inDay / 60 % 60, 2)
    out.append(UInt8(ascii: ":"))
    digits(inDay % 60, 2)
    out.append(UInt8(ascii: "Z"))
    return String(decoding: out, as: UTF8.self)
  }

  /// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SS` followed by `Z` or `+HH:MM` / `-HH:MM`, or nil
  /// for anything else (see the type's notes). The result may fall slightly outside
  /// `earliest...latest` by the offset.
  public static func parse(_ text: some Collection<UInt8>) -> Int64? {
    let b = Array(text)
    guard b.count == 20 || b.count == 25 else { return nil }
    func number(_ start: Int, _ width: Int) -> Int64? {
      var v: Int64 = 0
      for i in start..<start + width {
        let c = b[i]
        guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
        v = v * 10 + Int64(c - UInt8(ascii: "0"))
      }
      return v
    }
    guard b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
      b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
      let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
      let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
      (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
      hour <= 23, minute <= 59, second <= 59
    else { return nil }
    var offset: Int64 = 0
    if b.count == 20 {
      guard b[19] == UInt8(ascii: "Z") else { return nil }
    } else {
      guard b[19] == UInt8(ascii: "+") || b[19] == UInt8(ascii: "-"), b[22] == UInt8(ascii: ":"),
        let offsetHours = number(20, 2), let offsetMinutes = number(23, 2), offsetHours <= 23, offsetMinutes <= 59
      else { return nil }
      offset = (offsetHours * 60 + offsetMinutes) * 60
      if b[19] == UInt8(ascii: "-") { offset = -offset }
    }
    // Local time minus its offset east of UTC is UTC.
    return days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
  }
}
