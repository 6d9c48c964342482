package demodata

// Word lists the generator draws from. Saved searches and campaign segments refer to the same
// strings, so filters built from them match the generated people exactly.

// firstNames are given names from many regions; a few carry diacritics, which emails transliterate.
var firstNames = []string{
	// English-speaking
	"James", "Olivia", "Michael", "Emma", "David", "Sophia", "Daniel", "Charlotte", "Matthew", "Amelia",
	"Ryan", "Hannah", "Andrew", "Grace", "Christopher", "Emily", "Nathan", "Megan", "Thomas", "Lauren",
	"Benjamin", "Rachel", "Samuel", "Jessica", "Patrick", "Claire", "Liam", "Chloe", "Owen", "Abigail",
	"Tyler", "Natalie", "Jordan", "Madison", "Marcus", "Sarah", "Kevin", "Rebecca", "Aaron", "Ashley",
	// Spanish and Portuguese
	"José", "Sofía", "Alejandro", "Lucía", "Carlos", "Valentina", "Diego", "Camila", "Javier", "Isabel",
	"João", "Beatriz", "Rafael", "Mariana", "Thiago", "Larissa", "Pedro", "Gabriela",
	// German, Dutch, Nordic
	"Lukas", "Anna", "Jonas", "Lena", "Felix", "Katharina", "Maximilian", "Johanna", "Daan", "Femke",
	"Sander", "Sanne", "Lars", "Ingrid", "Erik", "Astrid", "Björn", "Freja", "Søren", "Maja",
	// French and Italian
	"Antoine", "Camille", "Julien", "Léa", "Mathieu", "Chloé", "Nicolas", "Manon", "Giulia", "Marco",
	"Francesca", "Luca",
	// South Asian
	"Arjun", "Priya", "Rohan", "Ananya", "Vikram", "Kavya", "Rahul", "Neha", "Aditya", "Divya",
	"Sanjay", "Pooja", "Karthik", "Meera",
	// East and South-East Asian
	"Wei", "Mei", "Jun", "Yuki", "Hiroshi", "Sakura", "Min-jun", "Ji-woo", "Kenji", "Haruka",
	"Linh", "Minh", "Siti", "Arif",
	// African and Middle Eastern
	"Chinedu", "Amara", "Kwame", "Ama", "Tendai", "Nia", "Oluwaseun", "Zainab", "Omar", "Layla",
	"Youssef", "Fatima", "Karim", "Yasmin", "Tariq", "Noor",
	// Eastern European
	"Aleksander", "Zofia", "Mateusz", "Katarzyna", "Dmitri", "Irina", "Andrei", "Elena",
	"Tomasz", "Agnieszka", "Nikola", "Ana", "Viktor", "Daria", "Pavel", "Milena",
}

// lastNames are family names from many regions; a few carry apostrophes, spaces or diacritics.
var lastNames = []string{
	// English-speaking
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
	"Thomas", "Moore", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall",
	"Allen", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Carter",
	"Mitchell", "Roberts", "Campbell", "Parker", "Evans", "Collins", "Murphy", "O'Brien", "Kelly", "Sullivan",
	"Hughes", "Fletcher", "Bennett", "Hayes", "Foster",
	// Spanish and Portuguese
	"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres",
	"Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira",
	// German, Dutch, Nordic
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "de Vries", "van Dijk",
	"Bakker", "Visser", "Jansen", "Andersson", "Johansson", "Lindqvist", "Nilsson", "Larsen", "Hansen", "Virtanen",
	// French and Italian
	"Dubois", "Lefebvre", "Moreau", "Laurent", "Girard", "Fontaine", "Rossi", "Russo", "Bianchi", "Romano",
	"Ricci", "Conti",
	// South Asian
	"Patel", "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Mehta", "Chopra",
	"Desai", "Banerjee", "Rao", "Kapoor",
	// East and South-East Asian
	"Wang", "Li", "Zhang", "Chen", "Liu", "Huang", "Tanaka", "Suzuki", "Sato", "Watanabe",
	"Kim", "Park", "Lee", "Nguyen", "Tran", "Tan", "Lim", "Santoso",
	// African and Middle Eastern
	"Okafor", "Adeyemi", "Mensah", "Okonkwo", "Mwangi", "Moyo", "Haddad", "Khalil", "Rahman", "Hassan",
	"Nasser", "Aziz",
	// Eastern European
	"Nowak", "Kowalski", "Wiśniewski", "Ivanov", "Popescu", "Novak", "Horvat", "Petrov", "Dvořák", "Kovač",
	"Sokolova",
}

// Titles the saved searches and campaign segments refer to by name.
const (
	titleCEO            = "CEO"
	titleFounder        = "Founder"
	titleCoFounder      = "Co-Founder"
	titleCOO            = "COO"
	titleCFO            = "CFO"
	titleVPFinance      = "VP of Finance"
	titleHeadFinance    = "Head of Finance"
	titleFinanceDir     = "Finance Director"
	titleCMO            = "Chief Marketing Officer"
	titleVPMarketing    = "VP of Marketing"
	titleHeadMarketing  = "Head of Marketing"
	titleMarketingDir   = "Director of Marketing"
	titleDemandGen      = "Demand Generation Manager"
	titleMarketingOps   = "Marketing Operations Manager"
	titleRevenueOps     = "Revenue Operations Manager"
	titleHeadGrowth     = "Head of Growth"
	titleVPGrowth       = "VP of Growth"
	titleGrowthMarketer = "Growth Marketing Manager"
	titleGrowthLead     = "Growth Lead"
)

// weighted is a value with a relative sampling weight.
type weighted struct {
	value  string
	weight float64
}

// titles are job titles with relative frequencies skewed towards the marketing, sales and
// leadership roles a B2B outreach tool targets.
var titles = []weighted{
	// Leadership
	{titleCEO, 3}, {titleFounder, 2}, {titleCoFounder, 2}, {titleCOO, 2}, {"CTO", 2.5},
	{"Chief Revenue Officer", 1.5},
	// Finance
	{titleCFO, 4}, {titleVPFinance, 2.5}, {titleHeadFinance, 2.5}, {titleFinanceDir, 2}, {"Financial Controller", 1},
	// Marketing
	{titleCMO, 2}, {titleVPMarketing, 3}, {titleHeadMarketing, 3}, {titleMarketingDir, 2.5},
	{titleDemandGen, 3}, {titleMarketingOps, 2.5}, {"Content Marketing Manager", 2}, {"Product Marketing Manager", 2.5},
	{"Digital Marketing Specialist", 2}, {"Field Marketing Manager", 1.5}, {"Brand Manager", 1.5},
	{"Marketing Manager", 3},
	// Growth
	{titleHeadGrowth, 2.5}, {titleVPGrowth, 1.5}, {titleGrowthMarketer, 2.5}, {titleGrowthLead, 1.5},
	// Sales and revenue
	{"VP of Sales", 3}, {"Head of Sales", 2.5}, {"Sales Director", 2}, {"Account Executive", 3},
	{"Sales Development Representative", 2.5}, {"Sales Operations Lead", 2}, {titleRevenueOps, 2},
	{"Business Development Manager", 2}, {"Head of Partnerships", 1.5},
	// Product, engineering and operations
	{"VP of Engineering", 2}, {"Head of Product", 2}, {"Product Manager", 2}, {"Head of Customer Success", 1.5},
	{"Customer Success Manager", 2}, {"IT Director", 1.5}, {"Head of People", 1.5}, {"Procurement Manager", 1},
	{"Operations Manager", 1.5},
}

// Industries and countries the saved searches and campaign segments refer to by name.
const (
	industrySoftware      = "Software"
	industryFintech       = "Fintech"
	industryLogistics     = "Logistics"
	industryManufacturing = "Manufacturing"
	industryEcommerce     = "E-commerce"

	countryUS          = "United States"
	countryUK          = "United Kingdom"
	countryGermany     = "Germany"
	countryFrance      = "France"
	countryCanada      = "Canada"
	countryNetherlands = "Netherlands"
	countrySweden      = "Sweden"
	countrySpain       = "Spain"
)

// industry is a company sector with its relative frequency and the words company names in it end with.
type industry struct {
	name     string
	weight   float64
	suffixes []string
}

// industries are the company sectors; each company belongs to exactly one.
var industries = []industry{
	{industrySoftware, 20, []string{"Software", "Labs", "Cloud", "Systems", "Analytics", "Data"}},
	{industryFintech, 13, []string{"Pay", "Capital", "Ledger", "Finance", "Payments"}},
	{"Healthcare", 7, []string{"Health", "Medical", "Care", "Diagnostics"}},
	{industryLogistics, 8, []string{"Logistics", "Freight", "Shipping", "Supply"}},
	{industryEcommerce, 7, []string{"Commerce", "Market", "Goods", "Retail"}},
	{industryManufacturing, 7, []string{"Industries", "Manufacturing", "Works", "Components"}},
	{"Education", 4, []string{"Learning", "Academy", "Education"}},
	{"Media", 4, []string{"Media", "Studios", "Publishing"}},
	{"Cybersecurity", 6, []string{"Security", "Shield", "Defense", "Cyber"}},
	{"Real Estate", 4, []string{"Properties", "Realty", "Estates"}},
	{"Telecommunications", 3, []string{"Telecom", "Networks", "Connect"}},
	{"Energy", 4, []string{"Energy", "Power", "Solar"}},
	{"Consulting", 6, []string{"Consulting", "Partners", "Advisory"}},
	{"Travel & Hospitality", 3, []string{"Travel", "Hospitality", "Stays"}},
	{"Marketing & Advertising", 7, []string{"Marketing", "Creative", "Agency", "Digital"}},
}

// countries are the company headquarters and home countries of people, with relative frequencies.
var countries = []weighted{
	{countryUS, 30}, {countryUK, 12}, {countryGermany, 9}, {countryFrance, 7}, {countryCanada, 6},
	{"Australia", 5}, {countryNetherlands, 6}, {countrySweden, 5}, {countrySpain, 5}, {"India", 6},
	{"Brazil", 4}, {"Singapore", 5},
}

// stemHeads and stemTails combine into company name stems such as "Northwind" or "Silverline".
var (
	stemHeads = []string{
		"North", "Blue", "Iron", "Silver", "Bright", "Clear", "Red", "Stone", "Oak", "Cedar",
		"Sun", "Star", "Cloud", "Green", "Maple", "Copper", "High", "West", "Swift", "Pine",
	}
	stemTails = []string{
		"wind", "peak", "ridge", "line", "water", "path", "wood", "field", "gate", "bridge",
		"light", "point", "shore", "crest", "brook", "haven",
	}
)

// stemWords are single-word company name stems, used alongside the combined ones.
var stemWords = []string{
	"Meridian", "Vertex", "Lumen", "Quanta", "Atlas", "Kestrel", "Halcyon", "Juniper", "Orbital", "Pinnacle",
	"Beacon", "Cobalt", "Zephyr", "Nimbus", "Arbor", "Helix", "Aurora", "Fable", "Tandem", "Parallax",
	"Verdant", "Alder", "Sequoia", "Corvid", "Tessera", "Solstice", "Ember", "Keystone", "Lattice", "Mosaic",
	"Nova", "Obsidian", "Paragon", "Quill", "Radiant", "Sable", "Talon", "Umbra", "Vantage", "Willow",
	"Axiom", "Bastion", "Cascade", "Drift", "Evergreen", "Fulcrum", "Granite", "Harbor", "Indigo", "Jasper",
}

// freeMailDomains are the reserved-TLD mail domains of people without company data.
var freeMailDomains = []string{"mail.example", "inbox.example", "post.example"}
